"""OpenAI's shapes, as its clients read them: errors, models, chat completions and their chunks,
responses and their stream events, conversations and their items.

Ids carry OpenAI's prefixes on the app's UUIDs: a conversation is conv_<hex>,
a reply is chatcmpl-<hex> or resp_<hex>, a message item msg_<hex>.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.http import JsonResponse

# The `type` OpenAI gives each status; its clients pick an exception class by the status.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "service_unavailable_error",
}


def error_body(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": ERROR_TYPES.get(status, "invalid_request_error"),
            "param": param,
            "code": code,
        }
    }


class ApiError(Exception):
    """A call refused: answered with `status` and OpenAI's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message, code=self.code, param=self.param)

    def response(self) -> JsonResponse:
        response = JsonResponse(self.body(), status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def bad(message: str, param: str | None = None) -> ApiError:
    """A 400 for a request that asks for something wrong; `param` names the field."""
    return ApiError(
        400, message, code="invalid_request_error" if param is None else "invalid_value", param=param
    )


# Ids ------------------------------------------------------------------------------

CONVERSATION_PREFIX = "conv_"
RESPONSE_PREFIX = "resp_"
COMPLETION_PREFIX = "chatcmpl-"
ITEM_PREFIX = "msg_"


def public_id(prefix: str, value: uuid.UUID | str) -> str:
    return prefix + uuid.UUID(str(value)).hex


def parse_id(prefix: str, value: Any) -> uuid.UUID | None:
    """The UUID behind `prefix`<hex> (a bare UUID is taken too, as the page's URLs show it); None if it is not one."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.removeprefix(prefix)
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


# Models ---------------------------------------------------------------------------


def model_list(names: list[str]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": name, "object": "model", "created": 0, "owned_by": "ollama"} for name in names],
    }


# Chat completions -----------------------------------------------------------------


def finish_reason(status: str, done_reason: str, *, tool_calls: bool = False) -> str:
    """OpenAI's finish_reason for a reply: "tool_calls" when it waits for the client's tools,
    "length" when it ran out of tokens, "cancelled" when someone pressed stop (in the page), else "stop"."""
    if status == "stopped":
        return "cancelled"
    if tool_calls:
        return "tool_calls"
    if done_reason == "length":
        return "length"
    return "stop"


def tool_calls(calls: list[dict[str, Any]], *, indexed: bool = False) -> list[dict[str, Any]]:
    """The stored calls (records.call_data) as OpenAI's, arguments as JSON text; a chunk's are indexed."""
    shaped = []
    for index, call in enumerate(calls):
        entry: dict[str, Any] = {
            "id": call["call_id"],
            "type": "function",
            "function": {
                "name": call["name"],
                "arguments": json.dumps(call["arguments"], ensure_ascii=False),
            },
        }
        shaped.append({"index": index, **entry} if indexed else entry)
    return shaped


def chat_usage(prompt_tokens: int | None, completion_tokens: int | None) -> dict[str, int]:
    prompt, completion = prompt_tokens or 0, completion_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def chat_completion(
    *,
    reply_id: str,
    created: int,
    model: str,
    content: str,
    finish: str,
    usage: dict[str, int],
    conversation_id: str,
    calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if calls:
        message["tool_calls"] = tool_calls(calls)
    return {
        "id": public_id(COMPLETION_PREFIX, reply_id),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish,
                "logprobs": None,
            }
        ],
        "usage": usage,
        "system_fingerprint": None,
        # Not OpenAI's: where the call was stored, to open it in the page or continue it.
        "conversation": public_id(CONVERSATION_PREFIX, conversation_id),
    }


def chat_chunk(
    *,
    reply_id: str,
    created: int,
    model: str,
    delta: dict[str, Any] | None,
    finish: str | None = None,
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One chat.completion.chunk; `delta` None is the usage chunk, which has no choices."""
    choices = (
        [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
    )
    chunk: dict[str, Any] = {
        "id": public_id(COMPLETION_PREFIX, reply_id),
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
        "system_fingerprint": None,
    }
    if usage is not None:
        chunk["usage"] = usage
    return chunk


# Responses ------------------------------------------------------------------------


def response_usage(prompt_tokens: int | None, completion_tokens: int | None) -> dict[str, Any]:
    prompt, completion = prompt_tokens or 0, completion_tokens or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def output_message(item_id: str, text: str, *, status: str) -> dict[str, Any]:
    content = [] if status == "in_progress" else [output_text(text)]
    return {
        "id": public_id(ITEM_PREFIX, item_id),
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def response_status(status: str, done_reason: str) -> str:
    """A reply's status as a response's: complete, cut short by the token limit, stopped, or failed."""
    if status == "complete":
        return "incomplete" if done_reason == "length" else "completed"
    if status == "stopped":
        return "cancelled"
    if status == "streaming":
        return "in_progress"
    return "failed"


def response(
    *,
    reply_id: str,
    created: int,
    model: str,
    status: str,
    text: str = "",
    error: dict[str, str] | None = None,
    usage: dict[str, Any] | None = None,
    request: dict[str, Any],
) -> dict[str, Any]:
    """A Response object; `request` holds what the call asked for (instructions, conversation, ...)."""
    output = [] if status == "in_progress" else [output_message(reply_id, text, status="completed")]
    return {
        "id": public_id(RESPONSE_PREFIX, reply_id),
        "object": "response",
        "created_at": created,
        "status": status,
        "error": error,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": request.get("previous_response_id"),
        "conversation": {"id": request["conversation"]} if request.get("conversation") else None,
        "store": request.get("store", True),
        "temperature": request.get("temperature"),
        "top_p": request.get("top_p"),
        "text": {"format": request.get("text_format") or {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "truncation": "disabled",
        "usage": usage,
        "metadata": request.get("metadata") or {},
    }


# Conversations ---------------------------------------------------------------------


def conversation(conversation_id: str, *, created: int, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "id": public_id(CONVERSATION_PREFIX, conversation_id),
        "object": "conversation",
        "created_at": created,
        "metadata": metadata,
    }


def conversation_deleted(conversation_id: str) -> dict[str, Any]:
    return {
        "id": public_id(CONVERSATION_PREFIX, conversation_id),
        "object": "conversation.deleted",
        "deleted": True,
    }


def message_item(message_id: str, role: str, text: str, *, status: str = "completed") -> dict[str, Any]:
    """A stored message as a conversation item: what a person wrote is input_text, a reply output_text."""
    if role == "assistant":
        content = [output_text(text)]
    else:
        content = [{"type": "input_text", "text": text}]
    return {
        "id": public_id(ITEM_PREFIX, message_id),
        "type": "message",
        "status": status,
        "role": role,
        "content": content,
    }


def item_list(items: list[dict[str, Any]], *, has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }
