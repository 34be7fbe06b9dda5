"""Starting a reply from a frame: the database decides (chat/starts.py), then the reply task runs
(chat/generation.py) and every tab is told."""

from __future__ import annotations

import asyncio
import uuid
import weakref
from typing import Any, Literal

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from conversations.chat import events, liveness
from conversations.chat.generation import Generation
from conversations.chat.group_commit import GroupCommit
from conversations.chat.liveness import running
from conversations.chat.replies import BUSY, ReplyRefused, conversation_model
from conversations.chat.starts import (
    NewQuestion,
    StartedReply,
    continue_reply,
    resume_with_results,
    start_another_reply,
    start_new_replies,
)
from conversations.ollama import catalog
from conversations.ollama.client import get_client
from conversations.tools.builtins import Caller


async def start(
    *,
    conversation_id: uuid.UUID,
    content: str,
    model: str,
    client_id: str = "",
    mode: Literal["new", "regenerate", "edit", "continue", "results"] = "new",
    image_ids: tuple[uuid.UUID, ...] = (),
    format: str | dict[str, Any] | None = None,
    message_id: uuid.UUID | None = None,
    time_zone: str = "",
    client_tools: list[dict[str, Any]] | None = None,
    tool_results: dict[str, str] | None = None,
) -> None:
    """Save the user's message, announce it and the reply, and start the reply task.

    `time_zone` is the user's (the page's `tz` cookie), for tools that tell the time.
    `client_tools` are an API client's own tools: offered to the model in place of the
    conversation's, and handed back to the client when called, not run. "results" lets the
    reply `message_id` go on with `tool_results` (by call id), the client's.

    Raises replies.ReplyRefused (busy, no model, images for a model that cannot see).
    """
    if conversation_id in running:
        raise ReplyRefused("busy", BUSY)
    running[conversation_id] = None  # taken while the database decides
    try:
        if image_ids:
            await _check_vision(conversation_id, model)
        if mode == "new":
            question = NewQuestion(conversation_id, content, model, image_ids, format)
            started = await _new_reply_starts().submit(question)
        elif mode == "results":
            assert message_id is not None and tool_results is not None
            started = await database_sync_to_async(resume_with_results)(
                conversation_id=conversation_id,
                reply_id=message_id,
                results=tool_results,
                is_alive=liveness.is_alive,
            )
        elif mode == "continue":
            assert message_id is not None
            started = await database_sync_to_async(continue_reply)(
                conversation_id=conversation_id, reply_id=message_id, is_alive=liveness.is_alive
            )
        else:
            started = await database_sync_to_async(start_another_reply)(
                conversation_id=conversation_id,
                mode=mode,
                is_alive=liveness.is_alive,
                content=content,
                model=model,
                format=format,
                message_id=message_id,
            )
    except BaseException:
        running.pop(conversation_id, None)
        raise
    await events.announce_interrupted(started.interrupted)
    layer = get_channel_layer()
    group = events.conversation_group(conversation_id)
    if started.user_message is not None:
        await layer.group_send(
            group, events.message_saved(started.user_message, client_id=client_id, title=started.title)
        )
    await layer.group_send(group, events.reply_started(started.reply, replaces=started.replaced))
    if client_tools is not None:
        started.payload["tools"] = client_tools
    tools = [] if client_tools is not None else started.tools
    generation = Generation(
        conversation_id=conversation_id,
        reply=started.reply,
        payload=started.payload,
        tools=tools,
        caller=Caller(user_id=started.owner_id, time_zone=time_zone) if tools or client_tools else None,
        notes=started.tool_notes if client_tools is None else [],
        client_tools=client_tools is not None,
        first_round=started.first_round,
    )
    running[conversation_id] = generation
    generation.task = asyncio.create_task(generation.run(), name=f"reply-{started.reply['id']}")
    liveness.ensure_checkpointer()


_group_commits: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, GroupCommit[NewQuestion, StartedReply]
] = weakref.WeakKeyDictionary()


def _start_new_replies(questions: list[NewQuestion]) -> list[StartedReply | ReplyRefused]:
    return start_new_replies(questions, is_alive=liveness.is_alive)


def _new_reply_starts() -> GroupCommit[NewQuestion, StartedReply]:
    """This event loop's queue of new questions: those that arrive together start together."""
    loop = asyncio.get_running_loop()
    if loop not in _group_commits:
        _group_commits[loop] = GroupCommit(_start_new_replies)
    return _group_commits[loop]


async def _check_vision(conversation_id: uuid.UUID, model: str) -> None:
    """Refuse images for a model that cannot see, rather than let Ollama garble them."""
    model = model or await database_sync_to_async(conversation_model)(conversation_id=conversation_id)
    if not model:
        return  # starting the reply says "choose a model"
    refusal = await catalog.vision_refusal(get_client(), model)
    if refusal:
        raise ReplyRefused("model_cannot_see", refusal)
