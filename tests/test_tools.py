"""Tools end to end: the real socket, the fake Ollama over HTTP and the fake MCP server over Streamable HTTP."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from conversations.models import Message, ToolCall, ToolServer
from conversations.tools import servers
from tests.helpers import open_socket, receive_until, send, text_of

pytestmark = pytest.mark.django_db(transaction=True)


def trigger(name: str, **arguments) -> str:
    return f"[[tool:{name} {json.dumps(arguments)}]]" if arguments else f"[[tool:{name}]]"


async def use_tools(conversation, *keys: str) -> None:
    conversation.tools = list(keys)
    await conversation.asave()


async def mcp_server(fake_mcp, *users, ask_first=(), headers=None, url=None) -> ToolServer:
    server = await ToolServer.objects.acreate(
        name="fake", url=url or fake_mcp.url, headers=headers or {}, ask_first=list(ask_first)
    )
    for user in users:
        await server.users.aadd(user)
    await servers.refresh(server)
    await server.arefresh_from_db()
    return server


def tool_frames(frames: list[dict]) -> list[dict]:
    return [frame["call"] for frame in frames if frame["type"] == "tool"]


async def test_a_tool_round_trip(ollama, alice, conversation):
    await use_tools(conversation, "builtin:calculator")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content="What is 6*7? " + trigger("calculator", expression="6*7"))
    frames = await receive_until(socket, "done")

    calls = tool_frames(frames)
    assert [call["status"] for call in calls] == ["running", "ok"]
    assert calls[-1]["name"] == "calculator" and calls[-1]["arguments"] == {"expression": "6*7"}
    assert calls[-1]["result"] == "42" and calls[-1]["source"] == "built-in"
    # The call is shown before the answer that follows it.
    first_call = frames.index(next(f for f in frames if f["type"] == "tool"))
    assert text_of(frames[:first_call]) == "Round 1. "
    assert text_of(frames[first_call:]) == "Tool results: 42"
    assert text_of(frames) == "Round 1. Tool results: 42"
    done = frames[-1]["message"]
    assert done["status"] == "complete" and done["tool_calls"][0]["result"] == "42"

    first, second = ollama.chat_requests()
    assert [tool["function"]["name"] for tool in first.json["tools"]] == ["calculator"]
    assert second.json["messages"][-2:] == [
        {
            "role": "assistant",
            "content": "Round 1. ",
            "tool_calls": [
                {
                    "id": calls[-1]["call_id"],
                    "function": {"name": "calculator", "arguments": {"expression": "6*7"}},
                }
            ],
        },
        {"role": "tool", "tool_name": "calculator", "content": "42", "tool_call_id": calls[-1]["call_id"]},
    ]
    saved = await ToolCall.objects.aget()
    assert saved.status == "ok" and saved.result == "42" and saved.user_id == alice.pk
    assert saved.duration_ms is not None
    await socket.disconnect()


async def test_two_rounds_in_one_reply(ollama, alice, conversation):
    await use_tools(conversation, "builtin:calculator")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content="[[rounds:2]] " + trigger("calculator", expression="2**10"))
    frames = await receive_until(socket, "done")

    assert text_of(frames) == "Round 1. Round 2. Tool results: 1024"
    rounds = [call.round async for call in ToolCall.objects.order_by("round")]
    assert rounds == [0, 1]
    last = ollama.chat_requests()[-1].json["messages"]
    assert [m["role"] for m in last[-4:]] == ["assistant", "tool", "assistant", "tool"]
    assert last[-4]["content"] == "Round 1. " and last[-2]["content"] == "Round 2. "
    await socket.disconnect()


async def test_the_round_limit_ends_the_reply_with_a_clear_message(ollama, alice, conversation, settings):
    settings.MAX_TOOL_ROUNDS = 2
    await use_tools(conversation, "builtin:calculator")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content="[[rounds:50]] " + trigger("calculator", expression="1+1"))
    frames = await receive_until(socket, "done")

    error = next(frame for frame in frames if frame["type"] == "error")
    assert error["code"] == "tool_rounds" and "after 2 rounds" in error["message"]
    assert len(ollama.chat_requests()) == 3
    assert await ToolCall.objects.acount() == 2
    await socket.disconnect()


async def test_a_model_without_tools_gets_none_and_the_reply_says_so(ollama, alice, conversation):
    conversation.model = "llava:7b"
    await use_tools(conversation, "builtin:calculator")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content="hi " + trigger("calculator", expression="1+1"))
    frames = await receive_until(socket, "done")

    assert "tools" not in ollama.chat_requests()[-1].json
    notes = [frame["text"] for frame in frames if frame["type"] == "note"]
    assert notes == ["llava:7b cannot use tools, so it answers without them."]
    assert frames[-1]["message"]["status"] == "complete"
    assert frames[-1]["message"]["tool_notes"] == notes
    await socket.disconnect()


async def test_a_follow_up_replays_the_earlier_calls_and_results(ollama, alice, conversation):
    await use_tools(conversation, "builtin:calculator")
    socket = await open_socket(alice, conversation.pk)
    question = "Sum? " + trigger("calculator", expression="40+2")
    await send(socket, type="chat", content=question)
    await receive_until(socket, "done")

    ollama.enqueue_chat("It was 42.")
    await send(socket, type="chat", content="And what was it?")
    await receive_until(socket, "done")

    call = await ToolCall.objects.aget()
    assert ollama.chat_requests()[-1].json["messages"] == [
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": "Round 1. ",
            "tool_calls": [
                {"id": call.call_id, "function": {"name": "calculator", "arguments": {"expression": "40+2"}}}
            ],
        },
        {"role": "tool", "tool_name": "calculator", "content": "42", "tool_call_id": call.call_id},
        {"role": "assistant", "content": "Tool results: 42"},
        {"role": "user", "content": "And what was it?"},
    ]
    await socket.disconnect()


async def test_the_page_shows_the_calls_of_a_saved_reply(ollama, alice, conversation):
    await use_tools(conversation, "builtin:calculator")
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content=trigger("calculator", expression="3*3"))
    await receive_until(socket, "done")

    await send(socket, type="sync", after=None)
    history = await receive_until(socket, "history")
    reply = history[-1]["messages"][-1]
    assert reply["tool_calls"][0]["result"] == "9" and reply["tool_calls"][0]["status"] == "ok"
    await socket.disconnect()


async def test_bad_arguments_and_unknown_tools_go_back_to_the_model_as_errors(ollama, alice, conversation):
    from tests.fake_ollama import tool_call

    await use_tools(conversation, "builtin:calculator")
    ollama.enqueue_tool_calls(
        tool_call("calculator", {"expression": "1/0"}),
        tool_call("rm_rf", {"path": "/"}, index=1),
        tool_call("calculator", ["not", "an", "object"], index=2),
    )
    ollama.enqueue_chat("Sorry.")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content="go")
    frames = await receive_until(socket, "done")

    ended = {call["id"]: call for call in tool_frames(frames)}
    assert [call["status"] for call in ended.values()] == ["error", "error", "error"]
    results = [m for m in ollama.chat_requests()[-1].json["messages"] if m["role"] == "tool"]
    assert results[0]["content"].startswith("Error: It cannot be computed")
    assert results[1]["content"] == "Error: There is no tool named 'rm_rf' in this conversation."
    assert results[2]["content"] == "Error: The arguments must be a JSON object."
    await socket.disconnect()


# MCP servers ------------------------------------------------------------------------


async def test_an_mcp_tool_round_trip_with_the_servers_headers(ollama, fake_mcp, alice, conversation):
    server = await mcp_server(fake_mcp, alice, headers={"Authorization": "Bearer s3cret"})
    assert server.state == "up" and [tool["name"] for tool in server.tools] == [
        "echo",
        "slow",
        "fail",
        "big",
        "nul",
    ]
    await use_tools(conversation, f"mcp:{server.pk}:echo")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content=trigger("echo", text="hello"))
    frames = await receive_until(socket, "done")

    assert text_of(frames) == "Round 1. Tool results: echo: hello"
    assert tool_frames(frames)[-1]["source"] == "fake"
    assert fake_mcp.calls[-1] == ("echo", {"text": "hello"})
    assert all(headers.get("authorization") == "Bearer s3cret" for headers in fake_mcp.headers)
    await socket.disconnect()


async def test_a_failing_tool_returns_its_error_to_the_model_and_shows_it(
    ollama, fake_mcp, alice, conversation
):
    server = await mcp_server(fake_mcp, alice)
    await use_tools(conversation, f"mcp:{server.pk}:fail")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content=trigger("fail"))
    frames = await receive_until(socket, "done")

    call = tool_frames(frames)[-1]
    assert call["status"] == "error" and "the fake tool broke" in call["error"]
    assert "Tool results: Error: " in text_of(frames) and "the fake tool broke" in text_of(frames)
    assert frames[-1]["message"]["status"] == "complete"
    await socket.disconnect()


async def test_a_tool_that_takes_too_long_times_out(ollama, fake_mcp, alice, conversation, settings):
    settings.TOOL_CALL_TIMEOUT_SECONDS = 0.5
    server = await mcp_server(fake_mcp, alice)
    await use_tools(conversation, f"mcp:{server.pk}:slow")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content=trigger("slow", seconds=30))
    frames = await receive_until(socket, "done", timeout=10)

    call = tool_frames(frames)[-1]
    assert call["status"] == "error" and call["error"] == "The tool did not answer within 0.5 seconds."
    assert "did not answer within 0.5 seconds" in text_of(frames)
    await socket.disconnect()


async def test_a_large_result_is_cut_to_the_cap(ollama, fake_mcp, alice, conversation, settings):
    settings.TOOL_RESULT_MAX_CHARS = 1000
    server = await mcp_server(fake_mcp, alice)
    await use_tools(conversation, f"mcp:{server.pk}:big")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content=trigger("big", size=50_000))
    await receive_until(socket, "done")

    call = await ToolCall.objects.aget()
    assert call.result.startswith("x" * 1000) and "the result was 50,000 characters" in call.result
    assert len(call.result) < 1100
    await socket.disconnect()


async def test_a_result_holding_what_no_database_stores_is_made_storable(
    ollama, fake_mcp, alice, conversation
):
    server = await mcp_server(fake_mcp, alice)
    await use_tools(conversation, f"mcp:{server.pk}:nul")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content=trigger("nul"))
    await receive_until(socket, "done")

    assert (await ToolCall.objects.aget()).result == "before\ufffdafter"
    await socket.disconnect()


async def test_a_server_that_is_down_is_marked_and_its_tools_left_out(ollama, fake_mcp, alice, conversation):
    from tests.helpers import closed_port_url

    server = await mcp_server(fake_mcp, alice, url=closed_port_url() + "/mcp")
    assert server.state == "down" and server.last_error == "The tool server could not be reached."
    server.tools = [{"name": "echo", "description": "", "parameters": {"type": "object"}}]  # listed before
    await server.asave()
    await use_tools(conversation, f"mcp:{server.pk}:echo", "builtin:calculator")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content="hi")
    frames = await receive_until(socket, "done")

    notes = [frame["text"] for frame in frames if frame["type"] == "note"]
    assert notes == ["The tool server fake is down, so its tools were left out of this reply."]
    assert [tool["function"]["name"] for tool in ollama.chat_requests()[-1].json["tools"]] == ["calculator"]
    await socket.disconnect()


async def test_a_server_that_goes_down_mid_call_is_marked(ollama, fake_mcp, alice, conversation):
    from tests.helpers import closed_port_url

    server = await mcp_server(fake_mcp, alice)
    await ToolServer.objects.filter(pk=server.pk).aupdate(url=closed_port_url() + "/mcp")
    await use_tools(conversation, f"mcp:{server.pk}:echo")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content=trigger("echo", text="x"))
    frames = await receive_until(socket, "done")

    assert tool_frames(frames)[-1]["error"] == "The tool server could not be reached."
    await server.arefresh_from_db()
    assert server.state == "down"
    await socket.disconnect()


async def test_a_user_cannot_use_a_server_they_were_not_given(ollama, fake_mcp, alice, bob, conversation):
    server = await mcp_server(fake_mcp, bob)
    await use_tools(conversation, f"mcp:{server.pk}:echo")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content=trigger("echo", text="x"))
    frames = await receive_until(socket, "done")

    assert "tools" not in ollama.chat_requests()[-1].json
    assert fake_mcp.calls == [] and tool_frames(frames) == []
    await socket.disconnect()


async def test_a_server_taken_away_mid_conversation_is_not_called(ollama, fake_mcp, alice, conversation):
    from tests.fake_ollama import tool_call

    server = await mcp_server(fake_mcp, alice)
    await use_tools(conversation, f"mcp:{server.pk}:slow")
    ollama.enqueue_tool_calls(tool_call("slow", {"seconds": 0}), delay=0.5, tokens=("a", "b"))
    ollama.enqueue_chat("ok")
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content="go")
    await receive_until(socket, "reply")
    await server.users.aremove(alice)  # while the model is still writing
    frames = await receive_until(socket, "done")

    assert tool_frames(frames)[-1]["error"] == "This tool server is no longer available to you."
    assert fake_mcp.calls == []
    await socket.disconnect()


# Stop, reload ---------------------------------------------------------------------------


async def test_stop_during_a_slow_tool_cancels_the_call(ollama, fake_mcp, alice, conversation):
    server = await mcp_server(fake_mcp, alice)
    await use_tools(conversation, f"mcp:{server.pk}:slow")
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content=trigger("slow", seconds=30))
    frames = await receive_until(socket, "tool")
    assert frames[-1]["call"]["status"] == "running"

    await send(socket, type="stop")
    frames = await receive_until(socket, "done")

    assert tool_frames(frames)[-1]["status"] == "cancelled"
    assert frames[-1]["message"]["status"] == "stopped"
    assert frames[-1]["message"]["content"] == "Round 1. "
    call = await ToolCall.objects.aget()
    assert call.status == "cancelled"
    assert len(ollama.chat_requests()) == 1
    await socket.disconnect()


async def test_a_tab_that_reloads_mid_call_sees_the_call(ollama, fake_mcp, alice, conversation):
    server = await mcp_server(fake_mcp, alice)
    await use_tools(conversation, f"mcp:{server.pk}:slow")
    first = await open_socket(alice, conversation.pk)
    await send(first, type="chat", content=trigger("slow", seconds=1))
    await receive_until(first, "tool")

    reloaded = await open_socket(alice, conversation.pk)
    await send(reloaded, type="sync", after=None)
    history = await receive_until(reloaded, "history")
    reply = history[-1]["messages"][-1]
    assert reply["status"] == "streaming" and reply["tool_calls"][0]["status"] == "running"
    snapshot = await receive_until(reloaded, "reply")
    assert snapshot[-1]["message"]["tool_calls"][0]["name"] == "slow"
    frames = await receive_until(reloaded, "done")

    assert tool_frames(frames)[-1]["status"] == "ok"
    assert "waited 1.0 s" in frames[-1]["message"]["content"]
    await first.disconnect()
    await reloaded.disconnect()


# Ask first ------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["approve", "deny"])
async def test_ask_first_waits_for_an_answer_from_any_tab(ollama, fake_mcp, alice, conversation, answer):
    server = await mcp_server(fake_mcp, alice, ask_first=["echo"])
    await use_tools(conversation, f"mcp:{server.pk}:echo")
    first = await open_socket(alice, conversation.pk)
    second = await open_socket(alice, conversation.pk)
    await send(first, type="chat", content=trigger("echo", text="hi"))

    for tab in (first, second):
        asked = (await receive_until(tab, "tool"))[-1]["call"]
        assert asked["status"] == "asked"
    assert fake_mcp.calls == []
    await send(second, type="sync", after=None)  # a reload shows the waiting call
    history = await receive_until(second, "history")
    assert history[-1]["messages"][-1]["tool_calls"][0]["status"] == "asked"

    await send(second, type=answer, call_id=asked["id"])
    frames = await receive_until(first, "done")

    if answer == "approve":
        assert [call["status"] for call in tool_frames(frames)] == ["running", "ok"]
        assert text_of(frames) == "Tool results: echo: hi"
    else:
        assert [call["status"] for call in tool_frames(frames)] == ["denied"]
        assert text_of(frames) == "Tool results: The user denied this call."
        assert fake_mcp.calls == []
    await first.disconnect()
    await second.disconnect()


async def test_an_answer_for_no_waiting_call_is_refused(ollama, alice, conversation):
    await use_tools(conversation, "builtin:calculator")
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content=trigger("calculator", expression="1"))
    await receive_until(socket, "done")
    call = await ToolCall.objects.aget()

    for frame in ({"call_id": str(call.pk)}, {"call_id": "not-an-id"}, {}):
        await send(socket, type="approve", **frame)
        error = await socket.receive_json_from(timeout=5)
        assert error["type"] == "error" and error["code"] in ("not_waiting", "invalid")
    await socket.disconnect()


async def test_another_users_call_cannot_be_answered(ollama, fake_mcp, alice, bob, conversation):
    from conversations.models import Conversation

    server = await mcp_server(fake_mcp, alice, ask_first=["echo"])
    await use_tools(conversation, f"mcp:{server.pk}:echo")
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content=trigger("echo", text="hi"))
    asked = (await receive_until(socket, "tool"))[-1]["call"]
    bobs = await Conversation.objects.acreate(owner=bob, model="llama3.2")
    intruder = await open_socket(bob, bobs.pk)

    await send(intruder, type="approve", call_id=asked["id"])
    error = await intruder.receive_json_from(timeout=5)

    assert error["code"] == "not_waiting"
    assert (await ToolCall.objects.aget()).status == "asked"
    await send(socket, type="stop")
    frames = await receive_until(socket, "done")
    assert tool_frames(frames)[-1]["status"] == "cancelled"
    await socket.disconnect()
    await intruder.disconnect()


async def test_a_reply_without_tools_stays_as_it_was(ollama, alice, conversation):
    ollama.enqueue_chat("plain")
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content=trigger("calculator", expression="1"))
    frames = await receive_until(socket, "done")

    assert "tools" not in ollama.chat_requests()[-1].json
    assert frames[-1]["message"]["tool_calls"] == [] and frames[-1]["message"]["tool_notes"] == []
    assert not [frame for frame in frames if frame["type"] in ("tool", "note")]
    await socket.disconnect()


async def test_a_reply_deleted_with_its_conversation_mid_call_is_not_resurrected(
    ollama, fake_mcp, alice, conversation
):
    server = await mcp_server(fake_mcp, alice)
    await use_tools(conversation, f"mcp:{server.pk}:slow")
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content=trigger("slow", seconds=0.5))
    await receive_until(socket, "tool")

    await conversation.adelete()
    await asyncio.sleep(1.5)

    assert await Message.objects.acount() == 0
    assert await sync_to_async(ToolCall.objects.count)() == 0
    await socket.disconnect()


# Choosing tools -----------------------------------------------------------------------------


async def test_the_tools_a_user_may_switch_on_are_theirs_only(fake_mcp, alice, bob):
    from tests.helpers import signed_in

    server = await mcp_server(fake_mcp, alice, ask_first=["slow"])

    def listed(user) -> dict:
        return signed_in(user).get("/api/tools/").json()

    mine = await sync_to_async(listed)(alice)
    theirs = await sync_to_async(listed)(bob)

    assert [(tool["source"], tool["name"]) for tool in mine["tools"]] == [
        ("built-in", "current_time"),
        ("built-in", "calculator"),
        ("built-in", "search_conversations"),
        ("fake", "echo"),
        ("fake", "slow"),
        ("fake", "fail"),
        ("fake", "big"),
        ("fake", "nul"),
    ]
    assert next(tool for tool in mine["tools"] if tool["name"] == "slow")["ask_first"] is True
    assert next(tool for tool in mine["tools"] if tool["name"] == "echo")["key"] == f"mcp:{server.pk}:echo"
    assert [tool["source"] for tool in theirs["tools"]] == ["built-in"] * 3


def test_a_conversation_remembers_its_tools(alice, bob, conversation):
    from tests.helpers import post_json, signed_in

    client = signed_in(alice)
    url = f"/c/{conversation.pk}/tools/"
    assert post_json(client, url, {"tools": ["builtin:calculator"]}).status_code == 200
    assert client.get(url).json() == {"tools": ["builtin:calculator"]}
    settings = f"/c/{conversation.pk}/settings/"
    assert post_json(client, settings, {"model": "qwen3:8b"}).status_code == 200

    refused = post_json(client, url, {"tools": "builtin:calculator"})
    assert refused.status_code == 400 and refused.json() == {
        "errors": {"tools": "Tools must be a list of tool keys."}
    }
    assert post_json(client, url, {"tools": ["https://example.com/"]}).status_code == 400
    assert post_json(client, url, ["builtin:calculator"]).status_code == 400
    assert post_json(client, url, {"tools": ["builtin:x"] * 65}).status_code == 400
    assert post_json(signed_in(bob), url, {"tools": []}).status_code == 404
    assert signed_in(bob).get(url).status_code == 404
    conversation.refresh_from_db()
    assert conversation.tools == ["builtin:calculator"]


# Export and import ------------------------------------------------------------------------


async def test_export_and_import_carry_the_calls_and_the_replay_still_works(ollama, alice, conversation):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from conversations.models import Conversation
    from tests.helpers import signed_in

    await use_tools(conversation, "builtin:calculator")
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content=trigger("calculator", expression="5*5"))
    await receive_until(socket, "done")
    await socket.disconnect()

    def round_trip() -> tuple[str, dict]:
        client = signed_in(alice)
        exported = client.get(f"/c/{conversation.pk}/export.json").content
        markdown = client.get(f"/c/{conversation.pk}/export.md").content.decode()
        created = client.post("/c/import/", {"file": SimpleUploadedFile("chat.json", exported)})
        assert created.status_code == 201, created.content
        return markdown, created.json()

    markdown, created = await sync_to_async(round_trip)()
    assert "<summary>Used calculator</summary>" in markdown and '{"expression": "5*5"}' in markdown
    copy = await Conversation.objects.exclude(pk=conversation.pk).aget()
    copied = [call async for call in ToolCall.objects.filter(message__conversation=copy)]
    assert [(call.name, call.result, call.status, call.user_id) for call in copied] == [
        ("calculator", "25", "ok", alice.pk)
    ]
    ollama.enqueue_chat("ok")
    socket = await open_socket(alice, copy.pk)
    await send(socket, type="chat", content="again?")
    await receive_until(socket, "done")
    replayed = ollama.chat_requests()[-1].json["messages"]
    assert [m["role"] for m in replayed] == ["user", "assistant", "tool", "assistant", "user"]
    assert replayed[2]["content"] == "25"
    await socket.disconnect()


def test_an_import_with_bad_tool_calls_is_refused_whole(alice):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from conversations.models import Conversation
    from tests.helpers import error_message, signed_in

    reply = {
        "id": "r",
        "role": "assistant",
        "content": "x",
        "created_at": "2025-03-01T09:00:00+00:00",
        "tool_calls": [{"name": "calculator", "status": "ok", "arguments": "rm -rf"}],
    }
    body = {"format": "ollama-chat-export", "version": 1, "conversation": {"messages": [reply]}}
    response = signed_in(alice).post(
        "/c/import/", {"file": SimpleUploadedFile("chat.json", json.dumps(body).encode())}
    )
    assert response.status_code == 400
    assert error_message(response) == "Message 1, tool call 1: arguments must be an object."
    assert not Conversation.objects.exists()


def test_a_plain_reply_asks_the_database_nothing_about_tools(alice, conversation):
    """Tools cost a reply without them no query of its own to start, replay or save it."""
    import uuid

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from conversations.chat import replies, starts

    for number in range(5):
        Message.objects.create(conversation=conversation, role="user", content=f"q{number}")
        Message.objects.create(conversation=conversation, role="assistant", content=f"a{number}")
    with CaptureQueriesContext(connection) as captured:
        [started] = starts.start_new_replies(
            [starts.NewQuestion(conversation.pk, "hi")], is_alive=lambda _: False
        )
        replies.finish_reply(
            message_id=uuid.UUID(started.reply["id"]), content="x", thinking="", status="complete"
        )

    # Only the replay's own query mentions them: it marks the replies that made calls (EXISTS).
    touching = [query["sql"] for query in captured if "conversations_tool" in query["sql"]]
    assert len(touching) == 1 and "EXISTS" in touching[0] and "has_calls" in touching[0]
    assert started.tools == [] and started.reply["tool_calls"] == []


async def test_the_time_tool_tells_the_time_in_the_browsers_time_zone(ollama, alice, conversation):
    from channels.testing import WebsocketCommunicator

    from chatsite.asgi import application
    from tests.helpers import session_cookie

    await use_tools(conversation, "builtin:current_time")
    cookie = await sync_to_async(session_cookie)(alice)
    socket = WebsocketCommunicator(
        application,
        f"/ws/conversations/{conversation.pk}/",
        headers=[
            (b"origin", b"http://testserver"),
            (b"host", b"testserver"),
            (b"cookie", f"sessionid={cookie}; tz=Asia/Tokyo".encode()),
        ],
    )
    assert (await socket.connect(timeout=5))[0]

    await send(socket, type="chat", content="What time is it? " + trigger("current_time"))
    frames = await receive_until(socket, "done")

    assert tool_frames(frames)[-1]["result"].endswith("(Asia/Tokyo, UTC+09:00)")  # Tokyo keeps no summer time
    await socket.disconnect()


def test_a_new_conversation_starts_with_the_tools_chosen_before_it(alice):
    from conversations.models import Conversation
    from tests.helpers import post_json, signed_in

    client = signed_in(alice)
    created = post_json(client, "/c/new/", {"model": "llama3.2", "tools": ["builtin:calculator"]})
    assert created.status_code == 201
    assert Conversation.objects.get(pk=created.json()["id"]).tools == ["builtin:calculator"]
    refused = post_json(client, "/c/new/", {"tools": "builtin:calculator"})
    assert refused.status_code == 400 and Conversation.objects.count() == 1


async def test_a_reply_interrupted_mid_call_keeps_its_rounds_and_replays_them(
    ollama, fake_mcp, alice, conversation
):
    from conversations.chat import liveness

    server = await mcp_server(fake_mcp, alice)
    await use_tools(conversation, f"mcp:{server.pk}:slow")
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content=trigger("slow", seconds=30))
    await receive_until(socket, "tool")

    liveness.running[conversation.pk].interrupt()  # what a worker told to stop does (shutdown.py)
    frames = await receive_until(socket, "done")

    reply = frames[-1]["message"]
    assert reply["status"] == "interrupted" and reply["content"] == "Round 1. "
    assert reply["tool_calls"][0]["status"] == "cancelled"
    ollama.enqueue_chat("ok")
    await send(socket, type="chat", content="again")
    await receive_until(socket, "done")
    replayed = ollama.chat_requests()[-1].json["messages"]
    assert [m["role"] for m in replayed] == ["user", "assistant", "tool", "user"]
    assert replayed[2]["content"] == "The call was cancelled before it returned."
    await socket.disconnect()


def test_calls_a_dead_worker_left_running_are_cancelled_with_its_reply(alice, conversation):
    from conversations.chat import replies

    reply = Message.objects.create(conversation=conversation, role="assistant", status="streaming")
    for position, status in enumerate(["ok", "running", "asked"]):
        ToolCall.objects.create(
            message=reply, user=alice, round=0, position=position, name="x", status=status
        )

    replies.interrupt_dead_replies(conversation_id=conversation.pk, is_alive=lambda _: False)

    assert list(ToolCall.objects.order_by("position").values_list("status", flat=True)) == [
        "ok",
        "cancelled",
        "cancelled",
    ]
