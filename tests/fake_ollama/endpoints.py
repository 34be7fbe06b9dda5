"""Ollama's endpoints as the fake answers them: chat and its stream, tags, ps, show, pull, delete, copy."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime
from typing import Any

from tests.fake_ollama.catalog import details_of, full_name, qualified
from tests.fake_ollama.go_json import Body, go_quote
from tests.fake_ollama.handler import BaseHandler
from tests.fake_ollama.rules import (
    _CHAT_FIELDS,
    _COPY_FIELDS,
    _DELETE_FIELDS,
    _PULL_FIELDS,
    _SHOW_FIELDS,
    _VALID_NAME,
    Rejected,
    decode,
    format_error,
    keep_alive_seconds,
    option_error,
)
from tests.fake_ollama.scripts import Recorded, Script


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Endpoints(BaseHandler):
    """The endpoints, one method per entry in ROUTES."""

    # Routes ----------------------------------------------------------------

    def _root(self, body: Body, recorded: Recorded) -> None:
        self._send(200, b"Ollama is running", "text/plain; charset=utf-8")

    def _version(self, body: Body, recorded: Recorded) -> None:
        self._send_json(200, {"version": "0.12.6"})

    def _tags(self, body: Body, recorded: Recorded) -> None:
        self._send_json(200, {"models": [self._tag(m) for m in self.fake.models]})

    def _ps(self, body: Body, recorded: Recorded) -> None:
        running = sorted(self.fake.running, key=lambda m: m["expires_at"], reverse=True)
        self._send_json(200, {"models": running})

    def _tag(self, model: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": model["name"],
            "model": model["name"],
            "modified_at": "2025-02-01T09:15:00.5-08:00",
            "size": model["size"],
            "digest": model["digest"],
            "details": details_of(model),
        }

    def _show(self, body: Body, recorded: Recorded) -> None:
        data = decode(body, "ShowRequest", _SHOW_FIELDS)
        name = data.get("model") or data.get("name")
        if not name:
            raise Rejected(400, "model is required")
        model = self.fake.find_model(name)
        if model is None:
            raise Rejected(404, f"model '{full_name(name)}' not found")
        arch = model["family"]
        self._send_json(
            200,
            {
                "modelfile": f"FROM {model['name']}\n",
                "parameters": 'stop "<|eot_id|>"\ntemperature 0.7',
                "template": "{{ .Prompt }}",
                "license": "Example licence text",
                "details": details_of(model),
                "model_info": {
                    "general.architecture": arch,
                    f"{arch}.context_length": model["context_length"],
                },
                "capabilities": model["capabilities"],
                "modified_at": "2025-02-01T09:15:00.5-08:00",
            },
        )

    def _chat(self, body: Body, recorded: Recorded) -> None:
        """Ollama's ChatHandler, in its order: decode, name, unload, capabilities, options, load, run."""
        data = decode(body, "ChatRequest", _CHAT_FIELDS)
        name = data.get("model") or ""  # a "name" field is not read here
        if not name:
            raise Rejected(400, "model is required")
        if not _VALID_NAME.match(name):
            raise Rejected(400, "invalid model name")
        model = self.fake.find_model(name)
        if model is None:
            raise Rejected(404, f"model '{name}' not found")
        messages = data.get("messages")
        if not messages and keep_alive_seconds(data.get("keep_alive")) == 0:
            self.fake.unload_model(model["name"])
            self._send_json(200, self._loaded(name, "unload"))
            return
        capabilities = model["capabilities"]
        if "thinking" not in capabilities and data.get("think") not in (None, False):
            raise Rejected(400, f"{go_quote(name)} does not support thinking")
        if "completion" not in capabilities:
            raise Rejected(400, f"{go_quote(name)} does not support chat")
        if data.get("tools") and "tools" not in capabilities:
            raise Rejected(400, f"{qualified(model['name'])} does not support tools")
        problem = option_error(data.get("options"))
        if problem is not None:
            raise Rejected(500, problem)
        if not messages:
            self.fake.load_model(model)
            self._send_json(200, self._loaded(name, "load"))  # one object, even when streaming
            return
        images = any(message.get("images") for message in messages if isinstance(message, dict))
        if images and "vision" not in capabilities:
            problem = "this model is missing data required for image input"
        problem = problem or format_error(data.get("format"))
        if problem is not None:  # the runner's first answer is an error: a real status
            raise Rejected(500, problem, "application/json")
        script = self.fake.next_script(data)
        if script.error is not None:
            raise Rejected(script.status, script.error)
        thinking = [] if data.get("think") is False else script.thinking
        if data.get("stream") is False:
            if script.stream_error is not None:
                raise Rejected(script.status, script.stream_error)
            self._send_json(200, self._final(name, script, "".join(script.tokens), "".join(thinking)))
            return
        self._stream(name, script, thinking, recorded)

    def _loaded(self, name: str, reason: str) -> dict[str, Any]:
        return {
            "model": name,
            "created_at": _now(),
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": reason,
        }

    def _stream(self, name: str, script: Script, thinking: list[str], recorded: Recorded) -> None:
        chunks = [("thinking", text) for text in thinking] + [("content", text) for text in script.tokens]
        # Like Ollama, nothing is sent until the first chunk (or error) is ready.
        if script.first_delay and self._client_gone(script.first_delay):
            recorded.closed_by_client = True
            return
        if script.stream_error is not None and not chunks:
            raise Rejected(script.status, script.stream_error, "application/json")
        self._start_stream()
        for index, (kind, text) in enumerate(chunks):
            if index and script.delay and self._client_gone(script.delay):
                recorded.closed_by_client = True
                self.close_connection = True
                return
            self._write_chunk(self._chunk(name, **{kind: text}))
        for call in script.tool_calls:  # each call whole, in a done:false chunk with empty content
            self._write_chunk(
                self._chunk(name) | {"message": {"role": "assistant", "content": "", "tool_calls": [call]}}
            )
        if script.delay and chunks and self._client_gone(script.delay):
            recorded.closed_by_client = True
            self.close_connection = True
            return
        if script.broken_off:
            self.close_connection = True  # no final chunk: the body is cut off
            return
        if script.stream_error is not None:
            self._write_chunk({"error": script.stream_error})  # no done line follows
        elif script.malformed:
            self._write_chunk("this is not json")
        elif not script.truncated:
            self._write_chunk(self._final(name, script, "", ""))
        self._end_stream()
        if script.stream_error is not None or script.malformed or script.truncated:
            self.close_connection = True

    def _chunk(self, name: str, *, content: str = "", thinking: str = "") -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if thinking:
            message["thinking"] = thinking
        return {"model": name, "created_at": _now(), "message": message, "done": False}

    def _final(self, name: str, script: Script, content: str, thinking: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if thinking:
            message["thinking"] = thinking
        count = max(len(script.tokens), 1)
        # The model is already loaded, so load_duration is 0 and, like every zero metric, left out.
        stats = {
            "total_duration": 512_000_000,
            "load_duration": 0,
            "prompt_eval_count": 12,
            "prompt_eval_duration": 40_000_000,
            "eval_count": count,
            "eval_duration": count * 10_000_000,
            **script.stats,
        }
        final: dict[str, Any] = {"model": name, "created_at": _now(), "message": message, "done": True}
        if script.done_reason:
            final["done_reason"] = script.done_reason
        return final | {key: value for key, value in stats.items() if value}

    # Model management ------------------------------------------------------

    def _pull(self, body: Body, recorded: Recorded) -> None:
        """Progress as NDJSON: manifest, each layer's bytes, verify, write, success."""
        data = decode(body, "PullRequest", _PULL_FIELDS)
        name = data.get("model") or data.get("name") or ""
        if not _VALID_NAME.match(name):
            raise Rejected(400, "invalid model name")
        model = self.fake.in_library(name)
        if data.get("stream") is False:
            if model is None:
                raise Rejected(500, "pull model manifest: file does not exist")
            self.fake.install(copy.deepcopy(model))
            self._send_json(200, {"status": "success"})
            return
        self._start_stream()
        lines: list[dict[str, Any]] = [{"status": "pulling manifest"}]
        if model is None:
            lines.append({"error": "pull model manifest: file does not exist"})
        else:
            lines += _layer_progress(model)
            lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}]
        for index, line in enumerate(lines):
            if index and self.fake.pull_delay and self._client_gone(self.fake.pull_delay):
                recorded.closed_by_client = True
                self.close_connection = True
                return
            self._write_chunk(line)
        if model is not None:
            self.fake.install(copy.deepcopy(model))  # installed before "success" is read
            self._write_chunk({"status": "success"})
        self._end_stream()
        if model is None:
            self.close_connection = True

    def _delete(self, body: Body, recorded: Recorded) -> None:
        data = decode(body, "DeleteRequest", _DELETE_FIELDS)
        name = data.get("model") or data.get("name") or ""
        if not _VALID_NAME.match(name):
            raise Rejected(400, f"name {go_quote(name)} is invalid")
        model = self.fake.find_model(name)
        if model is None:
            raise Rejected(404, f"model '{name}' not found")
        with self.fake.lock:
            self.fake.models = [m for m in self.fake.models if m is not model]
        self._send(200, b"", None)

    def _copy(self, body: Body, recorded: Recorded) -> None:
        data = decode(body, "CopyRequest", _COPY_FIELDS)
        for field_name in ("source", "destination"):
            value = data.get(field_name) or ""
            if not _VALID_NAME.match(value):
                raise Rejected(400, f"{field_name} {go_quote(value)} is invalid")
        model = self.fake.find_model(data["source"])
        if model is None:
            raise Rejected(404, f"model {go_quote(data['source'])} not found")
        self.fake.install({**copy.deepcopy(model), "name": full_name(data["destination"])})
        self._send(200, b"", None)


def _layer_progress(model: dict[str, Any]) -> list[dict[str, Any]]:
    """Per layer, as Ollama sends it: the total first (completed left out while 0), then bytes."""
    sizes = [model["size"] - 14_000, 12_000, 1_500, 500]  # weights, licence, template, params
    lines: list[dict[str, Any]] = []
    for index, total in enumerate(sizes):
        digest = hashlib.sha256(f"{model['name']}/{index}".encode()).hexdigest()
        layer = {"status": f"pulling {digest[:12]}", "digest": f"sha256:{digest}", "total": total}
        steps = 8 if index == 0 else 1
        lines.append(layer)
        lines += [{**layer, "completed": total * step // steps} for step in range(1, steps + 1)]
    return lines
