"""The tools of one reply: offered to the model, called round by round, approved by the user.

The reply task (chat/generation.py) owns one of these when the conversation has
tools switched on; a plain reply has none, and pays nothing for them. Every
change to a call is saved, then handed to the reply's publisher (`queue`), which
sends it after the text that came before it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async

from conversations.chat import events
from conversations.chat.prompt import DENIED, round_messages
from conversations.models import ToolCall
from conversations.ollama import catalog
from conversations.ollama.client import OllamaError, get_client
from conversations.tools import calls as tool_calls
from conversations.tools import records
from conversations.tools.builtins import Caller
from conversations.tools.registry import ToolSpec

OPEN = (ToolCall.Status.ASKED, ToolCall.Status.RUNNING)


class ToolRounds:
    def __init__(
        self,
        *,
        message_id: str,
        tools: list[ToolSpec],
        caller: Caller | None,
        notes: list[str],
        queue: Callable[[Any], None],
        first_round: int = 0,
        earlier: list[Any] | None = None,
    ) -> None:
        self.message_id = message_id
        self.tools = {tool.name: tool for tool in tools}
        self.caller = caller
        self.notes = list(notes)  # what the reply says about its tools apart from the calls
        self.queue = queue
        self.calls: list[ToolCall] = []  # every call so far, in order
        self.approvals: dict[str, asyncio.Future[bool]] = {}  # calls waiting for the user
        self.round_start = 0  # where the text of the current round begins
        self.first_round = first_round  # a reply that goes on after rounds it had numbers on from theirs
        self.earlier = list(earlier or [])  # the calls of those rounds, as tabs are shown them

    async def offer(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The request with the conversation's tools, if the model can use tools; else a note why not."""
        for note in self.notes:  # tools left out before the reply started
            self.queue(events.reply_note(message_id=self.message_id, text=note))
        if not self.tools:
            return payload
        try:
            can = "tools" in await catalog.capabilities(get_client(), payload["model"])
        except OllamaError:
            can = True  # the reply itself will report Ollama's state
        if not can:
            self._note(f"{payload['model']} cannot use tools, so it answers without them.")
            self.tools = {}
            return payload
        return {**payload, "tools": [tool.for_ollama() for tool in self.tools.values()]}

    def _note(self, text: str) -> None:
        self.notes.append(text)
        self.queue(events.reply_note(message_id=self.message_id, text=text))

    def _publish(self, call: ToolCall) -> None:
        self.queue(events.reply_tool(message_id=self.message_id, call=records.call_data(call)))

    async def run_round(
        self, payload: dict[str, Any], number: int, asked: list[dict[str, Any]], content: str
    ) -> dict[str, Any]:
        """Run the calls of one round, in order, and return the request that carries their results.

        `content` is the reply's text so far: this round's is what came since the last round.
        """
        assert self.caller is not None
        done: list[ToolCall] = []
        for position, wanted in enumerate(asked):
            call = ToolCall(
                message_id=self.message_id,
                user_id=self.caller.user_id,
                round=number,
                position=position,
                content_offset=len(content),
                call_id=wanted["id"],
                name=wanted["name"],
            )
            self.calls.append(call)
            await self._call(call, wanted["arguments"])
            done.append(call)
        text, self.round_start = content[self.round_start :], len(content)
        return {**payload, "messages": payload["messages"] + round_messages(text, done)}

    async def hand_over(self, asked: list[dict[str, Any]], content: str) -> None:
        """Keep the calls of an API client's tools, which the client runs: they stay "running"
        until its results come (chat/starts.py resume_with_results)."""
        assert self.caller is not None
        number = self.first_round + len({call.round for call in self.calls})
        for position, wanted in enumerate(asked):
            arguments = wanted["arguments"]
            call = ToolCall(
                message_id=self.message_id,
                user_id=self.caller.user_id,
                round=number,
                position=position,
                content_offset=len(content),
                # The client answers by id; Ollama does not always give one.
                call_id=(wanted.get("id") or f"call_{uuid.uuid4().hex[:24]}")[:64],
                name=wanted["name"][:200],
                source=ToolCall.CLIENT,
                arguments=arguments if tool_calls.check_arguments(arguments) is None else {},
            )
            self.calls.append(call)
            await self._save(call)

    async def _call(self, call: ToolCall, arguments: Any) -> None:
        assert self.caller is not None
        tool = self.tools.get(call.name)
        problem = tool_calls.check_arguments(arguments)
        if tool is not None:
            call.source = tool.source
            call.server_id = tool.server_id
        if problem is None:
            call.arguments = arguments
        if tool is None or problem is not None:
            call.status = ToolCall.Status.ERROR
            call.error = problem or f"There is no tool named {call.name!r} in this conversation."
            await self._save(call)
            return
        if tool.ask_first:
            call.status = ToolCall.Status.ASKED
            await self._save(call)
            if not await self._approved(call):
                call.status, call.result = ToolCall.Status.DENIED, DENIED
                await self._save(call)
                return
        call.status = ToolCall.Status.RUNNING
        await self._save(call)
        outcome = await tool_calls.run(tool, arguments, self.caller)
        call.status, call.error, call.duration_ms = outcome.status, outcome.error, outcome.duration_ms
        call.result = outcome.result if outcome.status == ToolCall.Status.OK else ""
        await self._save(call)

    async def _save(self, call: ToolCall) -> None:
        await database_sync_to_async(records.save_call)(call)
        self._publish(call)

    async def _approved(self, call: ToolCall) -> bool:
        """Wait for a tab of the owner to allow or deny the call (see decide())."""
        decision = asyncio.get_running_loop().create_future()
        self.approvals[str(call.pk)] = decision
        try:
            return await decision
        finally:
            del self.approvals[str(call.pk)]

    def decide(self, call_id: str, *, allow: bool) -> None:
        """A tab's answer, heard by the reply's listener; an answer for no waiting call is ignored."""
        decision = self.approvals.get(call_id)
        if decision is not None and not decision.done():
            decision.set_result(allow)

    def end_open_calls(self) -> None:
        """Calls still waiting or running when the reply ended (a stop, a failure) were cancelled;
        the reply's final save stores it."""
        for call in self.calls:
            if call.status in OPEN and call.source != ToolCall.CLIENT:
                call.status = ToolCall.Status.CANCELLED
                self._publish(call)

    def shown(self) -> dict[str, Any]:
        """The calls and notes so far, for a tab that (re)joins mid-reply."""
        return {
            "tool_calls": self.earlier + [records.call_data(call) for call in self.calls],
            "tool_notes": list(self.notes),
        }
