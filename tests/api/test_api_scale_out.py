"""The API on several workers sharing PostgreSQL and Redis: a script's reply, started on one
worker, streams into a tab on another; stop from that tab ends the script's stream.

These run in the PostgreSQL + Redis suite (DATABASE_URL=postgres://…, REDIS_URL=redis://…).
"""

# The scale-out suite's fixtures are imported, and test arguments name them (F811).
# ruff: noqa: F811
from __future__ import annotations

import openai
from asgiref.sync import sync_to_async

from openai_api import keys
from tests.test_scale_out import deltas, open_tab, pytestmark, start_worker  # noqa: F401 (fixtures)


async def client_on(worker, user) -> openai.AsyncOpenAI:
    _record, key = await sync_to_async(keys.create_key)(owner_id=user.pk, name="scripts")
    return openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{worker.port}/v1/", api_key=key, max_retries=0)


async def test_an_api_reply_streams_into_a_tab_on_another_worker(
    ollama,
    alice,
    conversation,
    start_worker,
    open_tab,
):
    first, second = start_worker("one"), start_worker("two")
    tokens = [f"w{i} " for i in range(20)]
    ollama.enqueue_chat(*tokens, delay=0.05)
    watcher = await open_tab(second, alice, conversation)

    async with await client_on(first, alice) as client:
        stream = await client.responses.create(
            model="llama3.2", input="count", conversation=f"conv_{conversation.pk.hex}", stream=True
        )
        events = [event async for event in stream]
    seen = await watcher.until("done")

    streamed = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert streamed == "".join(tokens)
    assert "".join(content for _, content in deltas(seen)) == "".join(tokens)
    assert [f["type"] for f in seen[:2]] == ["message", "reply"]
    assert seen[0]["message"]["content"] == "count"
    assert seen[-1]["message"]["status"] == "complete"


async def test_stop_in_a_tab_on_another_worker_cancels_the_api_response(
    ollama,
    alice,
    conversation,
    start_worker,
    open_tab,
):
    first, second = start_worker("one"), start_worker("two")
    ollama.enqueue_chat(*[f"w{i} " for i in range(100)], delay=0.1)
    stopper = await open_tab(second, alice, conversation)
    async with await client_on(first, alice) as client:
        stream = await client.responses.create(
            model="llama3.2", input="talk", conversation=f"conv_{conversation.pk.hex}", stream=True
        )
        async for event in stream:
            if event.type == "response.output_text.delta":
                break
        await stopper.send(type="stop")
        rest = [event async for event in stream]
    assert rest[-1].type == "response.completed" and rest[-1].response.status == "cancelled"
    assert "w99" not in rest[-1].response.output_text
