"""The model catalogue: what is installed, what /api/pull can fetch, how Ollama names and lists models."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_MODELS: list[dict[str, Any]] = [
    {
        "name": "llama3.2:latest",
        "family": "llama",
        "parameter_size": "3.2B",
        "quantization_level": "Q4_K_M",
        "size": 2019393189,
        "capabilities": ["completion", "tools"],
        "context_length": 131072,
        "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
    },
    {
        "name": "llava:7b",
        "family": "llama",
        "families": ["llama", "clip"],
        "parameter_size": "7B",
        "quantization_level": "Q4_0",
        "size": 4733363377,
        "capabilities": ["completion", "vision"],
        "context_length": 32768,
    },
    {
        "name": "qwen3:8b",
        "family": "qwen3",
        "parameter_size": "8.2B",
        "quantization_level": "Q4_K_M",
        "size": 5225388164,
        "capabilities": ["completion", "tools", "thinking"],
        "context_length": 40960,
    },
]

# What /api/pull can fetch, besides what is installed; any other name is unknown.
LIBRARY: list[dict[str, Any]] = [
    {
        "name": "tinyllama:latest",
        "family": "llama",
        "parameter_size": "1B",
        "quantization_level": "Q4_0",
        "size": 637700138,
        "capabilities": ["completion"],
        "context_length": 2048,
    },
    {
        "name": "nomic-embed-text:latest",
        "family": "nomic-bert",
        "parameter_size": "137M",
        "quantization_level": "F16",
        "size": 274302450,
        "capabilities": ["embedding"],
        "context_length": 2048,
    },
]

for _model in DEFAULT_MODELS + LIBRARY:  # a copy keeps its source's digest, as in Ollama
    _model.setdefault("digest", hashlib.sha256(_model["name"].encode()).hexdigest())


def full_name(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def qualified(name: str) -> str:
    """The name as Ollama's errors spell it in full: registry.ollama.ai/library/llama3.2:latest."""
    parts = full_name(name).split("/")
    defaults = ["registry.ollama.ai", "library"]
    return "/".join(defaults[: 3 - len(parts)] + parts)


def details_of(model: dict[str, Any]) -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": model["family"],
        "families": model.get("families", [model["family"]]),
        "parameter_size": model["parameter_size"],
        "quantization_level": model["quantization_level"],
    }


def running_model(
    name: str, *, expires_in: float = 300.0, model: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An /api/ps entry; `model` (else the catalog entry of that name) gives its digest and details."""
    model = model or next((m for m in DEFAULT_MODELS + LIBRARY if m["name"] == full_name(name)), None)
    expires = (datetime.now(UTC) + timedelta(seconds=expires_in)).isoformat()
    if model is None:
        digest = hashlib.sha256(name.encode()).hexdigest()
        details = {
            "parent_model": "",
            "format": "gguf",
            "family": "",
            "families": None,
            "parameter_size": "",
            "quantization_level": "",
        }
    else:
        digest, details = model["digest"], details_of(model)
    return {
        "name": name,
        "model": name,
        "size": 3_000_000_000,
        "digest": digest,
        "details": details,
        "expires_at": expires,
        "size_vram": 3_000_000_000,
        "context_length": 4096,
    }
