"""Per-conversation generation settings: Ollama options and keep_alive, range-checked."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from conversations.ollama.client import model_name

MAX_SYSTEM_PROMPT_CHARS = 20_000
MAX_STOP_SEQUENCES = 8

# name → (kind, lowest, highest). Empty means "the model's default": nothing is sent.
RANGES: dict[str, tuple[type, float, float]] = {
    "temperature": (float, 0.0, 2.0),
    "top_p": (float, 0.0, 1.0),
    "top_k": (int, 1, 1000),
    "min_p": (float, 0.0, 1.0),
    "num_ctx": (int, 256, 1_048_576),
    "num_predict": (int, -2, 1_000_000),  # -1: no limit, -2: fill the context
    "seed": (int, -1, 2**31 - 1),  # -1: random
    "repeat_penalty": (float, 0.0, 2.0),
}
OPTION_NAMES = (*RANGES, "stop")
# A Go duration as Ollama reads keep_alive: "5m", "1h30m", "0", "-1s".
DURATION = re.compile(r"^-?(0|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$")
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# Longer than anyone keeps a model loaded, far inside what Ollama's Go durations
# hold (about 292 years); a negative value means "keep it loaded".
MAX_KEEP_ALIVE_SECONDS = 366 * 24 * 3600
KEEP_ALIVE_HELP = "Use seconds (300) or a duration with a unit (5m, 1h, 0 to unload at once)."


@dataclass
class Settings:
    model: str
    system_prompt: str
    options: dict[str, Any]
    keep_alive: str


class InvalidSettings(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def clean_option(name: str, value: Any) -> Any:
    """The option's value in its proper type, or raise ValueError with the reason."""
    if name == "stop":
        if isinstance(value, str):
            value = [line for line in value.splitlines() if line]
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise ValueError("Stop sequences must be a list of non-empty texts.")
        if len(value) > MAX_STOP_SEQUENCES or any(len(item) > 100 for item in value):
            raise ValueError(f"At most {MAX_STOP_SEQUENCES} stop sequences of up to 100 characters.")
        return value
    kind, lowest, highest = RANGES[name]
    if isinstance(value, bool):
        raise ValueError("Must be a number.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("Must be a number.") from None
    if kind is int and not number.is_integer():
        raise ValueError("Must be a whole number.")
    if not lowest <= number <= highest:
        shown = (int(lowest), int(highest)) if kind is int else (lowest, highest)
        raise ValueError(f"Must be between {shown[0]} and {shown[1]}.")
    return int(number) if kind is int else number


def _seconds(text: str) -> float:
    """How long a keep_alive of seconds ("300") or a Go duration ("1h30m") is; ValueError if neither."""
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    if not DURATION.match(text):
        raise ValueError(KEEP_ALIVE_HELP)
    total = sum(float(number) * UNIT_SECONDS[unit] for number, unit in DURATION_PART.findall(text))
    return -total if text.startswith("-") else total


def clean_keep_alive(value: Any) -> str:
    if _empty(value):
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(KEEP_ALIVE_HELP)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(KEEP_ALIVE_HELP)
    if isinstance(value, int | float):
        text = str(int(value) if float(value).is_integer() else value)
    else:
        text = value.strip()
    seconds = _seconds(text)
    if not math.isfinite(seconds) or abs(seconds) > MAX_KEEP_ALIVE_SECONDS:
        raise ValueError("At most a year (8784h); a negative value keeps the model loaded.")
    return text


def keep_alive_for_ollama(value: str) -> int | float | str | None:
    """Plain numbers are seconds for Ollama only as JSON numbers ("300" is an error there).

    None for a stored value that is not valid (saved before it was checked):
    Ollama's default then applies, rather than every reply failing.
    """
    try:
        clean_keep_alive(value)
    except ValueError:
        return None
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return value


def clean_settings(data: Any) -> Settings:
    """Check a settings form; every problem is reported, keyed by field."""
    if not isinstance(data, dict):
        raise InvalidSettings({"__all__": "Send the settings as a JSON object."})
    errors: dict[str, str] = {}
    try:
        model = model_name(data.get("model"), optional=True)
    except ValueError as exc:
        errors["model"] = str(exc)
        model = ""
    system_prompt = data.get("system_prompt") or ""
    if not isinstance(system_prompt, str):
        errors["system_prompt"] = "Must be text."
    elif len(system_prompt) > MAX_SYSTEM_PROMPT_CHARS:
        errors["system_prompt"] = f"At most {MAX_SYSTEM_PROMPT_CHARS:,} characters."
    raw_options = data.get("options") or {}
    options: dict[str, Any] = {}
    if not isinstance(raw_options, dict):
        errors["options"] = "Must be an object."
        raw_options = {}
    for name, value in raw_options.items():
        if name not in OPTION_NAMES:
            errors[name] = "Unknown option."
        elif not _empty(value) and value != []:
            try:
                options[name] = clean_option(name, value)
            except ValueError as exc:
                errors[name] = str(exc)
    try:
        keep_alive = clean_keep_alive(data.get("keep_alive"))
    except ValueError as exc:
        errors["keep_alive"] = str(exc)
        keep_alive = ""
    if errors:
        raise InvalidSettings(errors)
    return Settings(model=model, system_prompt=system_prompt, options=options, keep_alive=keep_alive)
