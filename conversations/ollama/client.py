"""HTTP to Ollama and nothing else: the client, chunk parsing, OllamaError, and Ollama's rules for model names.

It knows no Django model; everything that talks to Ollama goes through it.
"""

from __future__ import annotations

import asyncio
import json
import re
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from conversations.json_input import storable

# Ollama's model names, [host/][namespace/]model[:tag]: what is worth asking Ollama about.
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,199}$")
INVALID_MODEL_NAME = "That is not a valid model name."


def model_name(value: Any, *, optional: bool = False) -> str:
    """`value` as a model name, without surrounding spaces; ValueError(INVALID_MODEL_NAME) if it is not one.

    With `optional`, None and "" are "" (no model chosen).
    """
    if optional and value in (None, ""):
        return ""
    if not isinstance(value, str) or not MODEL_NAME.match(value.strip()):
        raise ValueError(INVALID_MODEL_NAME)
    return value.strip()


def full_name(model: str) -> str:
    """`llama3.2` means `llama3.2:latest`, as /api/tags and /api/ps name it."""
    model = model.strip()
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"


ErrorKind = Literal["unreachable", "model_not_found", "upstream", "bad_stream", "timeout", "tool_rounds"]

# Ollama's figures in a reply's final chunk: why it ended, then counts and
# durations (in nanoseconds). Replies store them under the same names.
STATS_COUNTS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)
STATS_FIELDS = ("done_reason", *STATS_COUNTS)


# Each streaming reply holds a connection, so the pool has no upper bound (Ollama
# queues what it cannot serve yet). httpx counts every open connection against
# the keep-alive limit, so it must exceed the number of concurrent replies for the
# connections of finished ones to be reused.
POOL_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=256)


class OllamaError(Exception):
    """Ollama is unreachable or reported an error; `kind` picks what the user is told."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class ChatChunk:
    content: str = ""
    thinking: str = ""
    done: bool = False
    stats: dict[str, Any] = field(default_factory=dict)
    # Calls the model asks for, each whole in one chunk: {"id", "name", "arguments"} (arguments unchecked).
    tool_calls: tuple[dict[str, Any], ...] = ()  # a tuple: no new list for every token

    @classmethod
    def from_line(cls, line: str | bytes) -> ChatChunk:
        try:
            data = json.loads(line)
        except ValueError:
            raise OllamaError("bad_stream", "Ollama sent a malformed line in its reply.") from None
        if not isinstance(data, dict):
            raise OllamaError("bad_stream", "Ollama sent a malformed line in its reply.")
        # A failure after streaming began arrives as a line holding only "error".
        if "error" in data:
            raise OllamaError("upstream", f"Ollama reported an error: {data['error']}")
        message = data.get("message") or {}
        done = bool(data.get("done"))
        stats = {key: data[key] for key in STATS_FIELDS if key in data} if done else {}
        # A model's text may hold what no database stores (NUL) and no frame can
        # carry (a lone surrogate from a bad escape): U+FFFD takes their place.
        chunk = cls(
            content=storable(message.get("content") or ""),
            thinking=storable(message.get("thinking") or ""),
            done=done,
            stats=stats,
        )
        if message.get("tool_calls"):
            chunk.tool_calls = tuple(_tool_calls(message["tool_calls"]))
        return chunk


def _tool_calls(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise OllamaError("bad_stream", "Ollama sent tool calls that are not a list.")
    calls = []
    for call in value:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise OllamaError("bad_stream", "Ollama sent a tool call without a function name.")
        call_id = call.get("id")
        calls.append(
            {
                "id": storable(call_id)[:64] if isinstance(call_id, str) else "",
                "name": storable(function["name"])[:200],
                "arguments": function.get("arguments"),
            }
        )
    return calls


async def _ndjson_lines(response: httpx.Response) -> AsyncIterator[bytes]:
    """The non-empty lines of an NDJSON body, as bytes.

    Splitting the raw bytes ourselves costs a fraction of httpx's text line
    decoder, which matters at one HTTP chunk per token; json.loads reads bytes.
    """
    pending = b""
    async for data in response.aiter_bytes():
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            if line.strip():
                yield line
    if pending.strip():
        yield pending


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip() or f"HTTP {response.status_code}"
    if isinstance(data, dict) and "error" in data:
        return str(data["error"])
    return response.text.strip()


class OllamaClient:
    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.read_timeout = read_timeout
        # Replies can take minutes on slow hardware; only connecting gets a short deadline.
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, limits=POOL_LIMITS, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def _unreachable(self) -> OllamaError:
        return OllamaError(
            "unreachable",
            f"Cannot reach Ollama at {self.base_url}. Is it running? Start it with `ollama serve`.",
        )

    @contextmanager
    def _translated(self, activity: str) -> Iterator[None]:
        """httpx's exceptions become an OllamaError, so no caller needs to know httpx."""
        try:
            yield
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
                raise self._unreachable() from None
            raise OllamaError(
                "timeout",
                f"Ollama sent nothing for {self.read_timeout:g} seconds, so the {activity} was ended.",
            ) from None
        except httpx.ConnectError:
            raise self._unreachable() from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            # httpx says "incomplete chunked read", "peer closed connection…", "[Errno 104]…".
            raise OllamaError(
                "upstream",
                f"Ollama broke off the connection before the {activity} was finished "
                "(it may have stopped or run out of memory). Try again.",
            ) from None
        except httpx.HTTPError:
            raise OllamaError(
                "upstream", f"Talking to Ollama failed before the {activity} was finished. Try again."
            ) from None

    def _error_for(self, response: httpx.Response, model: str) -> OllamaError:
        if response.status_code == 404:
            return OllamaError(
                "model_not_found",
                f"Ollama does not have the model '{model}'. "
                f"Pull it with `ollama pull {model}`, or pick another model.",
            )
        return OllamaError(
            "upstream", f"Ollama reported an error ({response.status_code}): {_error_text(response)}"
        )

    async def stream_chat(self, payload: dict[str, Any]) -> AsyncIterator[ChatChunk]:
        """POST /api/chat with stream true and yield each parsed line.

        Leaving the iteration early (a stop, a cancelled task) closes the
        connection, which is how Ollama learns to stop generating.
        """
        model = payload.get("model", "")
        with self._translated("reply"):
            async with self._http.stream("POST", "/api/chat", json={**payload, "stream": True}) as response:
                if response.is_error:
                    await response.aread()
                    raise self._error_for(response, model)
                finished = False
                async for line in _ndjson_lines(response):
                    chunk = ChatChunk.from_line(line)
                    yield chunk
                    if chunk.done:
                        finished = True
                        break
                if not finished:
                    raise OllamaError(
                        "bad_stream", "Ollama closed the connection before the reply was finished."
                    )

    async def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST /api/chat with stream false: the whole answer as one object."""
        answer = await self.post_json(
            "/api/chat", {**payload, "stream": False}, model=payload.get("model", "")
        )
        return answer if isinstance(answer, dict) else {}

    async def get_json(self, path: str) -> Any:
        with self._translated("request"):
            response = await self._http.get(path)
        if response.is_error:
            raise OllamaError("upstream", f"Ollama reported an error: {_error_text(response)}")
        return response.json()

    async def post_json(self, path: str, payload: dict[str, Any], *, model: str = "") -> Any:
        with self._translated("request"):
            response = await self._http.post(path, json=payload)
        if response.is_error:
            raise self._error_for(response, model)
        return response.json() if response.content else {}

    async def show(self, model: str) -> dict[str, Any]:
        return await self.post_json("/api/show", {"model": model}, model=model)

    async def list_models(self) -> list[dict[str, Any]]:
        data = await self.get_json("/api/tags")
        return list(data.get("models") or [])

    # Model management ---------------------------------------------------------

    async def version(self) -> str:
        data = await self.get_json("/api/version")
        return str(data.get("version") or "")

    async def ps(self) -> list[dict[str, Any]]:
        """The models loaded in memory (GET /api/ps)."""
        data = await self.get_json("/api/ps")
        return list(data.get("models") or [])

    async def load(self, model: str) -> None:
        # A chat with no messages loads the model and answers once, even when streaming.
        await self.post_json("/api/chat", {"model": model, "messages": []}, model=model)

    async def unload(self, model: str) -> None:
        await self.post_json("/api/chat", {"model": model, "messages": [], "keep_alive": 0}, model=model)

    async def delete(self, model: str) -> None:
        # Ollama wants a DELETE with a JSON body and answers 200 with an empty body.
        await self._send("DELETE", "/api/delete", {"model": model}, model=model)

    async def copy(self, *, source: str, destination: str) -> None:
        await self._send("POST", "/api/copy", {"source": source, "destination": destination}, model=source)

    async def _send(self, method: str, path: str, payload: dict[str, Any], *, model: str) -> None:
        with self._translated("request"):
            response = await self._http.request(method, path, json=payload)
        if response.is_error:
            raise self._error_for(response, model)

    async def pull(self, model: str) -> AsyncIterator[dict[str, Any]]:
        """POST /api/pull and yield each progress object, ending with {"status": "success"}.

        An {"error": ...} line raises OllamaError. Leaving the iteration early
        closes the connection, which ends the download on Ollama's side too.
        """
        with self._translated("pull"):
            async with self._http.stream(
                "POST", "/api/pull", json={"model": model, "stream": True}
            ) as response:
                if response.is_error:
                    await response.aread()
                    raise OllamaError(
                        "upstream",
                        f"Ollama reported an error ({response.status_code}): {_error_text(response)}",
                    )
                finished = False
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    try:
                        progress = json.loads(line)
                    except ValueError:
                        progress = None
                    if not isinstance(progress, dict):
                        raise OllamaError("bad_stream", "Ollama sent a malformed line while pulling.")
                    if "error" in progress:
                        raise OllamaError("upstream", f"Ollama reported an error: {progress['error']}")
                    yield progress
                    if progress.get("status") == "success":
                        finished = True
                        break
                if not finished:
                    raise OllamaError(
                        "bad_stream", "Ollama closed the connection before the pull was finished."
                    )


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, OllamaClient] = weakref.WeakKeyDictionary()


def get_client() -> OllamaClient:
    """The shared client of the running event loop (so one per process under daphne).

    An AsyncClient's pooled connections belong to the loop that opened them, so a
    client must never be reused from another loop.
    """
    from django.conf import settings

    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = OllamaClient(
            settings.OLLAMA_HOST,
            connect_timeout=settings.OLLAMA_CONNECT_TIMEOUT,
            read_timeout=settings.OLLAMA_READ_TIMEOUT,
        )
        _clients[loop] = client
    return client
