"""What a call asks for, read from OpenAI's request shapes and checked: messages, options, format, images.

Plain functions of parsed JSON: each problem is an ApiError(400) naming the field (`param`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from conversations.ollama.client import model_name
from conversations.options import MAX_STOP_SEQUENCES, clean_option
from conversations.structured.errors import SchemaRejected
from conversations.structured.formats import check_format
from openai_api.shapes import bad
from openai_api.tool_input import Asked, read_call_id, read_calls, read_tools

# A script's history may be long, but not unbounded: as many messages as an import may hold.
ROLES = {"system", "developer", "user", "assistant"}
DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,", re.IGNORECASE)


@dataclass(frozen=True)
class Said:
    """One message of a conversation as a script sends it: who, what, and any images (their bytes).

    An assistant message may carry the tool calls it made; a "tool" message is
    the client's result of the call `call_id`.
    """

    role: str  # "system", "user", "assistant" or "tool" ("developer" is read as "system")
    text: str
    images: tuple[bytes, ...] = ()
    calls: tuple[Asked, ...] = ()
    call_id: str = ""


@dataclass
class Turn:
    """A call's new turn and how to answer it."""

    model: str
    question: Said | None  # None when the call brings tool results instead of a question
    earlier: list[Said] = field(default_factory=list)  # messages before the question, in order
    results: list[Said] = field(default_factory=list)  # the client's tool results that end the call
    tools: list[dict[str, Any]] | None = None  # the client's tools, in Ollama's shape
    options: dict[str, Any] = field(default_factory=dict)  # Ollama options
    format: str | dict[str, Any] | None = None
    stream: bool = False


def require_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise bad("The request body must be a JSON object.")
    return data


def read_model(data: dict[str, Any]) -> str:
    try:
        return model_name(data.get("model"))
    except ValueError:
        raise bad("`model` must be the name of an installed model, such as llama3.2.", "model") from None


def read_bool(data: dict[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad(f"`{name}` must be true or false.", name)
    return value


def read_text(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise bad(f"`{param}` must be text.", param)
    if len(value) > settings.MAX_MESSAGE_CHARS:
        raise bad(
            f"`{param}` is too long ({len(value):,} characters; the limit is {settings.MAX_MESSAGE_CHARS:,}).",
            param,
        )
    return value


def read_image(url: Any, param: str) -> bytes:
    """The bytes of a data: URL image; other URLs are refused (the server fetches nothing)."""
    if isinstance(url, dict):
        url = url.get("url")
    if not isinstance(url, str) or not DATA_URL.match(url[:100]):
        raise bad("Images must be data: URLs (data:image/png;base64,...); the server fetches no URL.", param)
    encoded = url.split(",", 1)[1]
    if len(encoded) > (settings.MAX_IMAGE_BYTES + 2) // 3 * 4 + 4:
        raise bad(f"An image may be at most {settings.MAX_IMAGE_BYTES / (1024 * 1024):.1f} MB.", param)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise bad("An image's data: URL is not valid base64.", param) from None


TEXT_PARTS = {"text", "input_text", "output_text"}
IMAGE_PARTS = {"image_url", "input_image"}


def read_content(content: Any, param: str) -> tuple[str, tuple[bytes, ...]]:
    """A message's content: a string, or parts of text and images (chat's and responses' names both)."""
    if content is None:
        return "", ()
    if isinstance(content, str):
        return read_text(content, param), ()
    if not isinstance(content, list):
        raise bad(f"`{param}` must be text or a list of content parts.", param)
    texts: list[str] = []
    images: list[bytes] = []
    for index, part in enumerate(content):
        where = f"{param}[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in TEXT_PARTS:
            texts.append(read_text(part.get("text"), f"{where}.text"))
        elif kind in IMAGE_PARTS:
            if len(images) >= settings.MAX_IMAGES_PER_MESSAGE:
                raise bad(f"A message can carry at most {settings.MAX_IMAGES_PER_MESSAGE} images.", where)
            images.append(read_image(part.get("image_url"), f"{where}.image_url"))
        else:
            raise bad(f"`{where}` must be a text or image part.", where)
    return read_text("\n".join(texts), param), tuple(images)


def read_message(message: Any, param: str, *, tools: bool = False) -> Said:
    """One message; `tools`: tool calls and tool results are taken (chat completions), else refused."""
    if not isinstance(message, dict):
        raise bad(f"`{param}` must be an object with a role and content.", param)
    role = message.get("role")
    if not tools and (
        role == "tool" or message.get("tool_calls") or message.get("type") == "function_call_output"
    ):
        raise bad("Tool calls and tool results are only taken by chat completions.", param)
    if role == "tool":
        return Said(
            "tool",
            read_content(message.get("content"), f"{param}.content")[0],
            call_id=read_call_id(message.get("tool_call_id"), f"{param}.tool_call_id"),
        )
    if role not in ROLES:
        raise bad(f"`{param}.role` must be system, developer, user, assistant or tool.", f"{param}.role")
    text, images = read_content(message.get("content"), f"{param}.content")
    if images and role != "user":
        raise bad("Only the user's messages may carry images.", param)
    calls: tuple[Asked, ...] = ()
    if message.get("tool_calls") is not None:
        if role != "assistant":
            raise bad("Only the assistant's messages may carry tool calls.", f"{param}.tool_calls")
        calls = read_calls(message["tool_calls"], f"{param}.tool_calls")
    return Said("system" if role == "developer" else role, text, images, calls)


def read_messages(value: Any, param: str, *, tools: bool = False) -> list[Said]:
    if not isinstance(value, list) or not value:
        raise bad(f"`{param}` must be a non-empty list of messages.", param)
    if len(value) > settings.MAX_IMPORT_MESSAGES:
        raise bad(f"`{param}` holds more than {settings.MAX_IMPORT_MESSAGES:,} messages.", param)
    said = [read_message(message, f"{param}[{index}]", tools=tools) for index, message in enumerate(value)]
    if tools:
        check_results(said, param)
    return said


def check_results(said: list[Said], param: str) -> None:
    """Every tool message answers a call of the assistant message just before its run of results."""
    asked: set[str] = set()
    for index, message in enumerate(said):
        if message.role == "tool":
            if message.call_id not in asked:
                raise bad(
                    "A tool message must answer a call of the assistant message before it.",
                    f"{param}[{index}].tool_call_id",
                )
            asked.discard(message.call_id)
        else:
            asked = {call.call_id for call in message.calls}


def split_results(said: list[Said], param: str) -> tuple[list[Said], list[Said]]:
    """A history that ends with tool results: the messages before them, and the results, which
    must answer every call of the assistant message before them."""
    start = len(said)
    while start and said[start - 1].role == "tool":
        start -= 1
    earlier, results = said[:start], said[start:]
    if not earlier or not earlier[-1].calls:
        raise bad("Tool results must follow the assistant message that made the calls.", param)
    if {result.call_id for result in results} != {call.call_id for call in earlier[-1].calls}:
        raise bad("Send a tool message for each of the last assistant message's tool calls.", param)
    return earlier, results


def split_turn(said: list[Said], param: str) -> tuple[list[Said], Said]:
    """The messages before the new question, and the question: the last message, which must be the user's."""
    question = said[-1]
    if question.role != "user" or not question.text.strip():
        raise bad("The last message must be the user's, with text: it is the question to answer.", param)
    return said[:-1], question


# Options and formats ---------------------------------------------------------------


def read_options(data: dict[str, Any], *, max_tokens_names: tuple[str, ...]) -> dict[str, Any]:
    """temperature, top_p, seed, stop and the token limit, as Ollama options, range-checked as the page's."""
    wanted: dict[str, Any] = {}
    for name in ("temperature", "top_p", "seed"):
        if data.get(name) is not None:
            wanted[name] = (name, data[name])
    for name in max_tokens_names:
        if data.get(name) is not None:
            wanted["num_predict"] = (name, data[name])
    if data.get("stop") is not None:
        stop = data["stop"]
        stop = [stop] if isinstance(stop, str) else stop
        if isinstance(stop, list) and len(stop) > MAX_STOP_SEQUENCES:
            raise bad(f"`stop` may hold at most {MAX_STOP_SEQUENCES} sequences.", "stop")
        wanted["stop"] = ("stop", stop)
    options: dict[str, Any] = {}
    for option, (name, value) in wanted.items():
        if isinstance(value, bool):
            raise bad(f"`{name}` must be a number.", name)
        try:
            options[option] = clean_option(option, value)
        except ValueError as exc:
            raise bad(f"`{name}`: {exc}", name) from None
    return options


def read_format(value: Any, param: str) -> str | dict[str, Any] | None:
    """OpenAI's json_object / json_schema as Ollama's `format` ("json" or the schema)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad(f"`{param}` must be an object with a type.", param)
    kind = value.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return "json"
    if kind != "json_schema":
        raise bad(f"`{param}.type` must be text, json_object or json_schema.", param)
    # Chat completions nest the schema under json_schema; responses' text.format holds it directly.
    holder = value.get("json_schema") if "json_schema" in value else value
    schema = holder.get("schema") if isinstance(holder, dict) else None
    if not isinstance(schema, dict):
        raise bad(f"`{param}` needs a JSON Schema object under `schema`.", param)
    try:
        return check_format(schema)
    except SchemaRejected as exc:
        raise bad(f"The schema cannot be used: {exc.message}", param) from None


# Chat completions --------------------------------------------------------------------


def read_chat_completion(data: Any) -> Turn:
    data = require_object(data)
    if data.get("functions"):
        raise bad("`functions` is replaced by `tools`.", "functions")
    if data.get("tool_choice") not in (None, "auto"):
        raise bad("Only `tool_choice` auto is supported.", "tool_choice")
    if data.get("n") not in (None, 1):
        raise bad("Only one choice (`n` = 1) is supported.", "n")
    said = read_messages(data.get("messages"), "messages", tools=True)
    question: Said | None = None
    results: list[Said] = []
    if said[-1].role == "tool":
        earlier, results = split_results(said, "messages")
    else:
        earlier, question = split_turn(said, "messages")
    stream_options = data.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise bad("`stream_options` must be an object.", "stream_options")
    return Turn(
        model=read_model(data),
        question=question,
        earlier=earlier,
        results=results,
        tools=read_tools(data.get("tools")),
        options=read_options(data, max_tokens_names=("max_tokens", "max_completion_tokens")),
        format=read_format(data.get("response_format"), "response_format"),
        stream=read_bool(data, "stream", False),
    )


def include_usage(data: dict[str, Any]) -> bool:
    options = data.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def history_digest(said: list[Said]) -> str:
    """A digest of a history as a script sends it, to know the next call that extends it."""
    shown = []
    for message in said:
        entry: list[Any] = [
            message.role,
            message.text,
            [hashlib.sha256(i).hexdigest() for i in message.images],
        ]
        if message.calls or message.call_id:  # so a plain history's digest stays as it was
            entry.append([[call.call_id, call.name, call.arguments] for call in message.calls])
            entry.append(message.call_id)
        shown.append(entry)
    return hashlib.sha256(json.dumps(shown, ensure_ascii=False).encode("utf-8", "surrogatepass")).hexdigest()


# Responses -------------------------------------------------------------------------


@dataclass
class ResponseCall:
    turn: Turn
    instructions: str | None
    conversation: str | None  # as the caller named it (conv_...)
    previous_response_id: str | None
    store: bool
    text_format: dict[str, Any] | None
    metadata: dict[str, Any]


def read_input(value: Any) -> list[Said]:
    """`input`: a string (one user message) or a list of message items."""
    if isinstance(value, str):
        return [Said("user", read_text(value, "input"))]
    if not isinstance(value, list) or not value:
        raise bad("`input` must be text or a non-empty list of messages.", "input")
    for index, item in enumerate(value):
        if isinstance(item, dict) and item.get("type") not in (None, "message"):
            raise bad(f"`input[{index}]`: only message items are supported.", f"input[{index}]")
    return read_messages(value, "input")


def read_conversation_ref(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value:
        raise bad("`conversation` must be a conversation id or an object with one.", "conversation")
    return value


def read_response_request(data: Any) -> ResponseCall:
    data = require_object(data)
    if data.get("tools"):
        raise bad("Tools are not supported yet.", "tools")
    earlier, question = split_turn(read_input(data.get("input")), "input")
    instructions = data.get("instructions")
    if instructions is not None:
        instructions = read_text(instructions, "instructions")
    text = data.get("text")
    if text is not None and not isinstance(text, dict):
        raise bad("`text` must be an object.", "text")
    text_format = (text or {}).get("format")
    conversation = read_conversation_ref(data.get("conversation"))
    previous = data.get("previous_response_id")
    if previous is not None and not isinstance(previous, str):
        raise bad("`previous_response_id` must be a response id.", "previous_response_id")
    if conversation and previous:
        raise bad("Pass `conversation` or `previous_response_id`, not both.", "previous_response_id")
    store = read_bool(data, "store", True)
    if not store and (conversation or previous):
        raise bad("A response that is not stored cannot continue a conversation.", "store")
    metadata = data.get("metadata")
    turn = Turn(
        model=read_model(data),
        question=question,
        earlier=earlier,
        options=read_options(data, max_tokens_names=("max_output_tokens",)),
        format=read_format(text_format, "text.format"),
        stream=read_bool(data, "stream", False),
    )
    return ResponseCall(
        turn=turn,
        instructions=instructions,
        conversation=conversation,
        previous_response_id=previous,
        store=store,
        text_format=text_format if isinstance(text_format, dict) else None,
        metadata=metadata if isinstance(metadata, dict) else {},
    )
