"""Parsing Ollama's NDJSON stream, whatever the network does to its chunk boundaries."""

from __future__ import annotations

import httpx
import pytest

from conversations.ollama.client import OllamaClient, OllamaError


def client_answering(*pieces: bytes) -> OllamaClient:
    async def body():
        for piece in pieces:
            yield piece

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body()))
    return OllamaClient("http://ollama.test", transport=transport)


async def test_lines_split_across_reads_are_put_back_together():
    client = client_answering(
        b'{"message":{"role":"assistant","content":"Hel"},"done":false}\n{"mess',
        b'age":{"role":"assistant","content":"lo \xc3',  # a UTF-8 character cut in two
        b'\xa9t\xc3\xa9"},"done":false}\n\n',
        b'{"message":{"role":"assistant","content":"!"},"done":true,"done_reason":"stop","eval_count":3}',
    )
    chunks = [chunk async for chunk in client.stream_chat({"model": "m", "messages": []})]
    await client.aclose()

    assert "".join(chunk.content for chunk in chunks) == "Hello été!"
    assert chunks[-1].done and chunks[-1].stats == {"done_reason": "stop", "eval_count": 3}


async def test_an_error_line_after_text_is_an_upstream_error():
    client = client_answering(b'{"message":{"content":"x"},"done":false}\n{"error":"out of memory"}\n')
    with pytest.raises(OllamaError) as caught:
        [chunk async for chunk in client.stream_chat({"model": "m", "messages": []})]
    await client.aclose()
    assert caught.value.kind == "upstream" and "out of memory" in caught.value.message
