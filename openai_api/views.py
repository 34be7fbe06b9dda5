"""The endpoints under /v1/: thin, each admitted by api_view, reading with requests.py,
storing with sessions.py, replying through relay.py, answering in shapes.py's shapes."""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from conversations import json_input
from conversations.ollama import catalog
from conversations.ollama.client import get_client
from openai_api import admission, keys, relay, requests, sessions, shapes, sse
from openai_api.admission import api_view
from openai_api.keys import Caller
from openai_api.relay import Delta, Outcome
from openai_api.requests import Turn
from openai_api.shapes import ApiError


def read_body(request: HttpRequest) -> Any:
    try:
        return json_input.loads(request.body or b"null", what="The request body")
    except json_input.Unacceptable as exc:
        raise ApiError(400, exc.message, code="invalid_json") from None


async def check_model(turn: Turn) -> None:
    """404 for a model Ollama does not have, 403 for one that cannot chat (an embedding model),
    400 for images to one that cannot see: before anything is saved."""
    model = turn.model
    info = await catalog.show(get_client(), model)
    if info is None:
        raise ApiError(
            404,
            f"The model `{model}` does not exist: pull it first, or pick another.",
            code="model_not_found",
            param="model",
        )
    if "completion" not in catalog.capabilities_of(info):
        raise ApiError(403, f"The model `{model}` cannot chat.", code="model_not_allowed", param="model")
    if turn.tools and "tools" not in catalog.capabilities_of(info):
        raise ApiError(
            400, f"The model `{model}` cannot use tools.", code="model_cannot_use_tools", param="tools"
        )
    if turn.question is not None and turn.question.images:
        refusal = await catalog.vision_refusal(get_client(), model)
        if refusal:
            raise ApiError(400, refusal, code="model_cannot_see", param="model")


def failure(outcome: Outcome) -> ApiError:
    """A reply that failed, as the call's error: Ollama's absence is a 503 with the page's text."""
    status = {"model_not_found": 404}.get(outcome.error_code, 503)
    return ApiError(status, outcome.error or "The reply failed.", code=outcome.error_code or "upstream")


async def count_tokens(caller: Caller, outcome: Outcome) -> None:
    tokens = (outcome.prompt_tokens or 0) + (outcome.completion_tokens or 0)
    await database_sync_to_async(keys.add_tokens)(key_id=caller.key_id, tokens=tokens)


async def start_reply(
    caller: Caller, turn: Turn, find_conversation: Callable[[], sessions.Placed]
) -> tuple[uuid.UUID, contextlib.AsyncExitStack, relay.Following]:
    """Keep the question's images, find or make its conversation, start the reply and follow it;
    the stack ends the following (the caller closes it). A refusal on the way undoes what was saved."""
    image_ids = await database_sync_to_async(sessions.store_images)(
        user_id=caller.user_id, images=turn.question.images if turn.question else ()
    )
    placed = None
    try:
        placed = await database_sync_to_async(find_conversation)()
        stack = contextlib.AsyncExitStack()
        follow = await stack.enter_async_context(relay.following(placed.conversation_id))
        try:
            await relay.start(follow, turn, image_ids=image_ids, resumed_reply=placed.resumed_reply)
        except BaseException:
            await stack.aclose()
            raise
    except Exception:
        await database_sync_to_async(sessions.discard)(
            user_id=caller.user_id, image_ids=image_ids, placed=placed
        )
        raise
    return placed.conversation_id, stack, follow


@csrf_exempt
@login_not_required
def unknown(request: HttpRequest) -> JsonResponse:
    return ApiError(404, f"Invalid URL ({request.method} {request.path}).", code="unknown_url").response()


# /v1/models ----------------------------------------------------------------------------


@api_view("GET")
async def models(request: HttpRequest, caller: Caller) -> JsonResponse:
    installed = await catalog.installed(get_client())
    return JsonResponse(
        shapes.model_list([model["name"] for model in installed if "completion" in model["capabilities"]])
    )


# /v1/chat/completions ------------------------------------------------------------------


@api_view("POST")
async def chat_completions(request: HttpRequest, caller: Caller) -> HttpResponse:
    data = read_body(request)
    turn = requests.read_chat_completion(data)
    await check_model(turn)
    conversation_id, stack, follow = await start_reply(
        caller, turn, functools.partial(sessions.chat_conversation, user_id=caller.user_id, turn=turn)
    )
    created = int(admission.clock())
    if turn.stream:
        return sse.response(_chat_events(caller, stack, follow, created, requests.include_usage(data)))
    async with stack:
        outcome = await relay.outcome(follow)
    await count_tokens(caller, outcome)
    if outcome.status in ("error", "interrupted"):  # the text so far stays in the conversation
        raise failure(outcome)
    return JsonResponse(_completion(outcome, created, conversation_id))


def _completion(outcome: Outcome, created: int, conversation_id: uuid.UUID) -> dict[str, Any]:
    return shapes.chat_completion(
        reply_id=outcome.reply_id,
        created=created,
        model=outcome.model,
        content=outcome.content,
        finish=shapes.finish_reason(outcome.status, outcome.done_reason, tool_calls=bool(outcome.tool_calls)),
        usage=shapes.chat_usage(outcome.prompt_tokens, outcome.completion_tokens),
        conversation_id=str(conversation_id),
        calls=outcome.tool_calls,
    )


async def _chat_events(
    caller: Caller, stack: contextlib.AsyncExitStack, follow: relay.Following, created: int, usage: bool
) -> AsyncIterator[bytes]:
    def chunk(delta: dict[str, Any] | None, **extra: Any) -> bytes:
        return sse.data(
            shapes.chat_chunk(
                reply_id=follow.reply_id, created=created, model=follow.model, delta=delta, **extra
            )
        )

    async with stack:
        yield chunk({"role": "assistant", "content": ""})
        try:
            async for update in relay.updates(follow):
                if isinstance(update, Delta):
                    yield chunk({"content": update.text})
                    continue
                await count_tokens(caller, update)
                if update.status in ("error", "interrupted"):
                    yield sse.data(failure(update).body())
                    return  # an error ends the stream, with no [DONE], as OpenAI's does
                if update.tool_calls:
                    yield chunk({"tool_calls": shapes.tool_calls(update.tool_calls, indexed=True)})
                finish = shapes.finish_reason(
                    update.status, update.done_reason, tool_calls=bool(update.tool_calls)
                )
                yield chunk({}, finish=finish)
                if usage:
                    yield chunk(None, usage=shapes.chat_usage(update.prompt_tokens, update.completion_tokens))
        except ApiError as exc:
            yield sse.data(exc.body())
            return
        yield sse.DONE


# /v1/responses -------------------------------------------------------------------------


@api_view("POST")
async def responses(request: HttpRequest, caller: Caller) -> HttpResponse:
    call = requests.read_response_request(read_body(request))
    conversation_ref = None
    if call.conversation is not None:
        conversation_ref = shapes.parse_id(shapes.CONVERSATION_PREFIX, call.conversation)
        if conversation_ref is None:
            raise ApiError(404, sessions.NOT_FOUND, code="not_found", param="conversation")
    previous = None
    if call.previous_response_id is not None:
        previous = shapes.parse_id(shapes.RESPONSE_PREFIX, call.previous_response_id)
        if previous is None:
            raise ApiError(404, "No response with that id.", code="not_found", param="previous_response_id")
    await check_model(call.turn)
    conversation_id, stack, follow = await start_reply(
        caller,
        call.turn,
        functools.partial(
            sessions.response_conversation,
            user_id=caller.user_id,
            turn=call.turn,
            conversation_id=conversation_ref,
            previous_reply_id=previous,
            instructions=call.instructions,
        ),
    )
    asked = {
        "instructions": call.instructions,
        "previous_response_id": call.previous_response_id,
        "conversation": shapes.public_id(shapes.CONVERSATION_PREFIX, conversation_id) if call.store else None,
        "store": call.store,
        "text_format": call.text_format,
        "metadata": call.metadata,
        "temperature": call.turn.options.get("temperature"),
        "top_p": call.turn.options.get("top_p"),
        "max_output_tokens": call.turn.options.get("num_predict"),
    }
    created = int(admission.clock())
    if call.turn.stream:
        return sse.response(_response_events(caller, stack, follow, created, asked, conversation_id))
    try:
        async with stack:
            outcome = await relay.outcome(follow)
    finally:
        if not call.store:
            await _forget(caller, conversation_id)
    await count_tokens(caller, outcome)
    if outcome.status in ("error", "interrupted"):  # the text so far stays in the conversation
        raise failure(outcome)
    return JsonResponse(_response(outcome, created, asked))


async def _forget(caller: Caller, conversation_id: uuid.UUID) -> None:
    """A response with store false leaves nothing behind once it is answered."""
    with contextlib.suppress(ApiError):
        await database_sync_to_async(sessions.delete_conversation)(
            user_id=caller.user_id, conversation_id=conversation_id
        )


def _response(outcome: Outcome, created: int, asked: dict[str, Any]) -> dict[str, Any]:
    status = shapes.response_status(outcome.status, outcome.done_reason)
    error = None
    if status == "failed":
        error = {"code": "server_error", "message": outcome.error or "The reply failed."}
    return shapes.response(
        reply_id=outcome.reply_id,
        created=created,
        model=outcome.model,
        status=status,
        text=outcome.content,
        error=error,
        usage=shapes.response_usage(outcome.prompt_tokens, outcome.completion_tokens),
        request=asked,
    )


async def _response_events(
    caller: Caller,
    stack: contextlib.AsyncExitStack,
    follow: relay.Following,
    created: int,
    asked: dict[str, Any],
    conversation_id: uuid.UUID,
) -> AsyncIterator[bytes]:
    """The documented sequence: created, in_progress, the output item and its text part added,
    text deltas, the text, part and item done, then completed (or failed, incomplete, cancelled)."""
    sequence = 0

    def emit(kind: str, **payload: Any) -> bytes:
        nonlocal sequence
        sequence += 1
        return sse.event(kind, {"type": kind, "sequence_number": sequence - 1, **payload})

    item_id = shapes.public_id(shapes.ITEM_PREFIX, follow.reply_id)
    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    pending = shapes.response(
        reply_id=follow.reply_id, created=created, model=follow.model, status="in_progress", request=asked
    )
    try:
        async with stack:
            yield emit("response.created", response=pending)
            yield emit("response.in_progress", response=pending)
            yield emit(
                "response.output_item.added",
                output_index=0,
                item=shapes.output_message(follow.reply_id, "", status="in_progress"),
            )
            yield emit("response.content_part.added", **where, part=shapes.output_text(""))
            try:
                async for update in relay.updates(follow):
                    if isinstance(update, Delta):
                        yield emit("response.output_text.delta", **where, delta=update.text, logprobs=[])
                        continue
                    await count_tokens(caller, update)
                    final = _response(update, created, asked)
                    yield emit("response.output_text.done", **where, text=update.content, logprobs=[])
                    yield emit("response.content_part.done", **where, part=shapes.output_text(update.content))
                    yield emit("response.output_item.done", output_index=0, item=final["output"][0])
                    kind = {"failed": "response.failed", "incomplete": "response.incomplete"}.get(
                        final["status"], "response.completed"
                    )
                    yield emit(kind, response=final)
            except ApiError as exc:
                yield emit("error", code=exc.code, message=exc.message, param=exc.param)
    finally:
        if not asked["store"]:
            await _forget(caller, conversation_id)


# /v1/conversations ---------------------------------------------------------------------


def _conversation_id(value: str) -> uuid.UUID:
    found = shapes.parse_id(shapes.CONVERSATION_PREFIX, value)
    if found is None:
        raise ApiError(404, sessions.NOT_FOUND, code="not_found")
    return found


@api_view("POST")
async def conversations(request: HttpRequest, caller: Caller) -> JsonResponse:
    data = requests.require_object(read_body(request))
    metadata = sessions.read_metadata(data.get("metadata"))
    items = data.get("items")
    said = requests.read_messages(items, "items") if items else []
    conversation = await database_sync_to_async(sessions.create_conversation)(
        user_id=caller.user_id, metadata=metadata, items=said
    )
    return JsonResponse(
        shapes.conversation(
            str(conversation.pk), created=int(conversation.created_at.timestamp()), metadata=metadata
        )
    )


@api_view("GET", "DELETE")
async def conversation(request: HttpRequest, caller: Caller, conversation_id: str) -> JsonResponse:
    pk = _conversation_id(conversation_id)
    if request.method == "DELETE":
        await database_sync_to_async(sessions.delete_conversation)(user_id=caller.user_id, conversation_id=pk)
        return JsonResponse(shapes.conversation_deleted(str(pk)))
    found = await database_sync_to_async(sessions.own_conversation)(
        user_id=caller.user_id, conversation_id=pk
    )
    return JsonResponse(
        shapes.conversation(
            str(pk), created=int(found.created_at.timestamp()), metadata=found.api_metadata or {}
        )
    )


MAX_ITEMS_PAGE = 100


@api_view("GET")
async def conversation_items(request: HttpRequest, caller: Caller, conversation_id: str) -> JsonResponse:
    pk = _conversation_id(conversation_id)
    try:
        limit = int(request.GET.get("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_ITEMS_PAGE:
        raise ApiError(
            400,
            f"`limit` must be a whole number from 1 to {MAX_ITEMS_PAGE}.",
            code="invalid_value",
            param="limit",
        )
    order = request.GET.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, "`order` must be asc or desc.", code="invalid_value", param="order")
    after = None
    if request.GET.get("after"):
        after = shapes.parse_id(shapes.ITEM_PREFIX, request.GET["after"])
        if after is None:
            raise ApiError(400, "`after` must be an item id.", code="invalid_value", param="after")
    rows, has_more = await database_sync_to_async(sessions.list_items)(
        user_id=caller.user_id, conversation_id=pk, after=after, limit=limit, descending=order == "desc"
    )
    items = [
        shapes.message_item(
            str(row["id"]),
            row["role"],
            row["content"],
            status="in_progress" if row["status"] == "streaming" else "completed",
        )
        for row in rows
    ]
    return JsonResponse(shapes.item_list(items, has_more=has_more))
