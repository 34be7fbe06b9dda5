"""What the installed models can do (/api/show, cached briefly) and what is loaded (/api/ps, shaped once)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from conversations.ollama.client import OllamaClient, OllamaError, full_name

CACHE_SECONDS = 60.0
# A conversation is "full" once its prompt uses this share of the context:
# Ollama then starts dropping the oldest messages.
FULL_CONTEXT_SHARE = 0.9
# Vision models of Ollama versions that predate the capabilities list.
VISION_FAMILIES = {"clip", "mllama"}

_cache: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}


def capabilities_of(info: dict[str, Any]) -> list[str]:
    capabilities = list(info.get("capabilities") or [])
    if not capabilities:
        families = set((info.get("details") or {}).get("families") or [])
        capabilities = ["completion"]
        if families & VISION_FAMILIES or info.get("projector_info"):
            capabilities.append("vision")
    return capabilities


async def show(client: OllamaClient, model: str) -> dict[str, Any] | None:
    """/api/show for a model, or None when Ollama does not have it."""
    key = (client.base_url, model)
    cached = _cache.get(key)
    if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    try:
        info = await client.show(model)
    except OllamaError as exc:
        if exc.kind != "model_not_found":
            raise
        info = None
    _cache[key] = (time.monotonic(), info)
    return info


async def capabilities(client: OllamaClient, model: str) -> list[str]:
    info = await show(client, model)
    return capabilities_of(info) if info is not None else []


async def can_see(client: OllamaClient, model: str) -> bool:
    return "vision" in await capabilities(client, model)


def forget() -> None:
    _cache.clear()


def context_length(info: dict[str, Any]) -> int | None:
    """The model's maximum context from model_info["<architecture>.context_length"]."""
    model_info = info.get("model_info") or {}
    architecture = model_info.get("general.architecture")
    value = model_info.get(f"{architecture}.context_length") if architecture else None
    return int(value) if isinstance(value, int | float) else None


async def installed(client: OllamaClient) -> list[dict[str, Any]]:
    """The installed models (/api/tags, never cached, so a finished pull shows at once),
    each with its capabilities, sorted by name."""
    models = await client.list_models()
    found = await asyncio.gather(*(capabilities(client, model.get("name", "")) for model in models))
    entries = []
    for model, can in zip(models, found, strict=True):
        details = model.get("details") or {}
        entries.append(
            {
                "name": model.get("name") or model.get("model") or "",
                "size": model.get("size"),
                "modified_at": model.get("modified_at") or "",
                "digest": model.get("digest") or "",
                "family": details.get("family") or "",
                "parameter_size": details.get("parameter_size") or "",
                "quantization": details.get("quantization_level") or "",
                "capabilities": can,
            }
        )
    return sorted(entries, key=lambda entry: entry["name"])


async def running(client: OllamaClient) -> list[dict[str, Any]]:
    """The models loaded in memory, as the pages show them."""
    return [
        {
            "name": model.get("name") or model.get("model") or "",
            "size": model.get("size"),
            "size_vram": model.get("size_vram"),
            "expires_at": model.get("expires_at") or "",
            "context_length": model.get("context_length"),
        }
        for model in await client.ps()
    ]


async def loaded_context(client: OllamaClient, model: str) -> int | None:
    """The context length `model` runs with now, if it is loaded (often far below its maximum)."""
    wanted = full_name(model).lower()
    for entry in await running(client):
        if entry["name"].lower() == wanted and entry["context_length"]:
            return int(entry["context_length"])
    return None


async def vision_refusal(client: OllamaClient, model: str) -> str | None:
    """Why images cannot go to `model` (it cannot see), naming a model that can; None if they can.

    None too when Ollama cannot say: the reply itself will report Ollama's state.
    """
    try:
        if await can_see(client, model):
            return None
        models = await installed(client)
    except OllamaError:
        return None
    seeing = [entry["name"] for entry in models if "vision" in entry["capabilities"]]
    if seeing:
        return f"{model} cannot see images. Switch to a vision model such as {seeing[0]}."
    return f"{model} cannot see images. Pull a vision model first, for example `ollama pull llava`."


async def without_images_unless_seeing(client: OllamaClient, payload: dict[str, Any]) -> dict[str, Any]:
    """A /api/chat request without its images if its model cannot see (after a switch of model):
    Ollama fails on them, and the text of the conversation still makes sense."""
    if not any("images" in message for message in payload["messages"]):
        return payload
    try:
        if await can_see(client, payload["model"]):
            return payload
    except OllamaError:
        return payload  # the reply itself will report Ollama's state
    messages = [
        {key: value for key, value in message.items() if key != "images"} for message in payload["messages"]
    ]
    return {**payload, "messages": messages}


async def context_window(
    client: OllamaClient, *, model: str, num_ctx: int | None
) -> tuple[int | None, str | None]:
    """The context a conversation runs with, and where that figure comes from.

    num_ctx when set; else what the loaded model really runs with (/api/ps),
    which is often far below the model's maximum; else the model's maximum
    (/api/show). (None, None) when nobody can say.
    """
    if num_ctx:
        return num_ctx, "num_ctx"
    if not model:
        return None, None
    try:
        loaded = await loaded_context(client, model)
        if loaded:
            return loaded, "loaded"
        maximum = context_length(await show(client, model) or {})
    except OllamaError:
        return None, None
    return (maximum, "model") if maximum else (None, None)


def context_use(
    window: tuple[int | None, str | None], *, prompt_tokens: int | None, reply_tokens: int | None
) -> dict[str, Any]:
    """How full the context is, as the context meter shows it: the last prompt and the reply
    to it, which the next prompt carries too."""
    length, source = window
    used = (prompt_tokens + (reply_tokens or 0)) if prompt_tokens else None
    full = bool(used and length and used >= length * FULL_CONTEXT_SHARE)
    return {
        "prompt_tokens": prompt_tokens,
        "reply_tokens": reply_tokens,
        "used_tokens": used,
        "context_length": length,
        "source": source,
        "full": full,
    }
