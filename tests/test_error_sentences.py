"""What goes wrong reads as a sentence a person understands, never as a library's wording:
JSON that cannot be read, a connection to Ollama broken off, a damaged zip, a failure of the server."""

from __future__ import annotations

import json
import zipfile

import pytest

from conversations.chat import generation
from tests.helpers import error_message, open_socket, receive_until, send, signed_in
from tests.import_files import export, import_file, message, zip_of

# What Python's json, httpx and zipfile say, which must never reach a person.
LIBRARY_WORDS = (
    "Expecting",
    "(char ",
    "chunked",
    "peer closed",
    "Errno",
    "Bad CRC",
    "Bad magic",
    "Traceback",
)


def reads_as_a_sentence(text: str) -> None:
    assert text[:1].isupper() and text.endswith("."), text
    for words in LIBRARY_WORDS:
        assert words not in text, text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", None),  # no body: the defaults
        ("{", "The request body is not valid JSON (it ends too early)."),
        (
            '{"model": }',
            "The request body is not valid JSON (a value is missing or is not JSON at line 1, column 11).",
        ),
        (
            '{"model": "x",}',
            "The request body is not valid JSON (a key in double quotes is expected at line 1, column 15).",
        ),
        (
            '{"model": "x} ',
            "The request body is not valid JSON (the text that starts at line 1, column 11 is never closed",
        ),
    ],
)
def test_json_an_endpoint_cannot_read_is_named_in_words(alice, body, expected):
    response = signed_in(alice).post("/c/new/", body, content_type="application/json")

    if expected is None:
        assert response.status_code == 201
        return
    assert response.status_code == 400
    assert error_message(response).startswith(expected)
    reads_as_a_sentence(error_message(response))


@pytest.mark.django_db(transaction=True)
async def test_a_frame_that_is_not_json_is_named_in_words(alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    await socket.send_to(text_data='{"type": "chat", "content": "hi",}')

    frame = (await receive_until(socket, "error"))[-1]
    await socket.disconnect()

    assert (
        frame["message"]
        == "The frame is not valid JSON (a key in double quotes is expected at line 1, column 34)."
    )


async def reply_error(alice, conversation) -> str:
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="hello")
    frames = await receive_until(socket, "done")
    await socket.disconnect()
    return frames[-1]["message"]["error"]


@pytest.mark.django_db(transaction=True)
async def test_ollama_breaking_off_the_connection_mid_reply(ollama, alice, conversation):
    ollama.enqueue_broken_off("Half an ")

    error = await reply_error(alice, conversation)

    assert error.startswith("Ollama broke off the connection before the reply was finished")
    reads_as_a_sentence(error)


@pytest.mark.django_db(transaction=True)
async def test_a_failure_of_the_server_mid_reply_says_so_without_its_details(
    ollama, alice, conversation, monkeypatch
):
    async def broken(client, payload):
        raise RuntimeError("internal detail: cursor 0x7f3a")  # a bug, as the server's log shows it

    monkeypatch.setattr(generation.catalog, "without_images_unless_seeing", broken)

    error = await reply_error(alice, conversation)

    assert error == "The reply failed because of a problem on the server; the text so far is kept. Try again."


@pytest.mark.django_db
def test_a_damaged_zip_is_named_without_zipfiles_words(alice):
    archive = zip_of(
        {"conversation.json": export(message(0, content="x" * 5000))}, compression=zipfile.ZIP_STORED
    )
    changed = archive.replace(b"x" * 100, b"y" * 100, 1)  # the checksum no longer matches

    response = import_file(signed_in(alice), changed, "chat.zip")

    assert response.status_code == 400
    assert error_message(response).startswith("The zip file is damaged or cannot be read.")
    reads_as_a_sentence(error_message(response))
    assert json.loads(response.content)["error"]["code"] == "invalid"
