"""The fake Ollama keeps to Ollama's wire behaviour: status, content type and body, over real HTTP."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests.fake_ollama import running_model

JSON = "application/json; charset=utf-8"
USER = [{"role": "user", "content": "hi"}]
THINK_CHOICES = '"high", "medium", "low", "max", true, or false'
PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def request(ollama, method: str, path: str, body=None, *, content: bytes | None = None) -> httpx.Response:
    content = json.dumps(body).encode() if content is None else content
    return httpx.request(method, f"{ollama.url}{path}", content=content)


def chat(ollama, body=None, **kwargs) -> httpx.Response:
    return request(ollama, "POST", "/api/chat", body, **kwargs)


def assert_error(response: httpx.Response, status: int, error: str, content_type: str = JSON) -> None:
    assert (response.status_code, response.headers["content-type"]) == (status, content_type)
    assert response.json() == {"error": error}


def ndjson(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.content.endswith(b"\n") and b"\n\n" not in response.content
    return [json.loads(line) for line in response.content.splitlines()]


# Requests Ollama refuses before any output ------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"name": "llama3.2", "messages": USER},  # /api/chat has no "name" alias
        {"model": "", "messages": USER},
        {"messages": USER},
        None,  # the body `null`
    ],
)
def test_chat_without_a_model_is_a_400(ollama, body):
    assert_error(chat(ollama, body), 400, "model is required")
    assert ollama.chat_requests()[-1].json == body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/chat"),
        ("POST", "/api/show"),
        ("POST", "/api/pull"),
        ("POST", "/api/copy"),
        ("DELETE", "/api/delete"),
    ],
)
@pytest.mark.parametrize("content", [b"", b" \r\n\t"])
def test_an_empty_body_is_missing(ollama, method, path, content):
    assert_error(request(ollama, method, path, content=content), 400, "missing request body")


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b'{"model": }', "invalid character '}' looking for beginning of value"),
        (b'{"model": "llama3.2"', "unexpected EOF"),
        (b'{model: "llama3.2"}', "invalid character 'm' looking for beginning of object key string"),
        (b'{"model" "llama3.2"}', "invalid character '\"' after object key"),
        (b'{"model": "llama3.2" "stream": true}', "invalid character '\"' after object key:value pair"),
        (b'{"messages": [{} {}]}', "invalid character '{' after array element"),
        (b'{"options": {"temperature": NaN}}', "invalid character 'N' looking for beginning of value"),
    ],
)
def test_malformed_json_is_a_400_in_the_go_decoders_words(ollama, content, error):
    assert_error(chat(ollama, content=content), 400, error)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"model": 3}, "json: cannot unmarshal number into Go struct field ChatRequest.model of type string"),
        (
            {"model": "llama3.2", "messages": "hi"},
            "json: cannot unmarshal string into Go struct field ChatRequest.messages of type []api.Message",
        ),
        (
            {"model": "llama3.2", "messages": [{"role": "user", "content": 5}]},
            "json: cannot unmarshal number into Go struct field Message.messages.content of type string",
        ),
        (
            {"model": "llama3.2", "messages": USER, "stream": "yes"},
            "json: cannot unmarshal string into Go struct field ChatRequest.stream of type bool",
        ),
        (
            {"model": "llama3.2", "messages": USER, "options": ["temperature"]},
            "json: cannot unmarshal array into Go struct field ChatRequest.options of type map[string]interface {}",
        ),
        ([{"model": "llama3.2"}], "json: cannot unmarshal array into Go value of type api.ChatRequest"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_400(ollama, body, error):
    assert_error(chat(ollama, body), 400, error)


def test_an_unknown_model_is_a_404_named_as_sent(ollama):
    assert_error(chat(ollama, {"model": "Mistral:7B", "messages": USER}), 404, "model 'Mistral:7B' not found")
    assert_error(chat(ollama, {"model": "bad name!", "messages": USER}), 400, "invalid model name")


def test_images_must_be_bare_base64_which_is_checked_first(ollama):
    data_url = {"role": "user", "content": "what?", "images": [f"data:image/png;base64,{PNG_BASE64}"]}
    assert_error(
        chat(ollama, {"model": "llava:7b", "messages": [data_url]}),
        400,
        "illegal base64 data at input byte 4",
    )
    assert_error(
        chat(ollama, {"model": "no-such-model", "messages": [data_url]}),
        400,
        "illegal base64 data at input byte 4",
    )
    assert_error(
        chat(ollama, {"model": "llava:7b", "messages": [{"images": ["abc"]}]}),
        400,
        "illegal base64 data at input byte 0",
    )
    bare = {"role": "user", "content": "what?", "images": [PNG_BASE64]}
    assert ndjson(chat(ollama, {"model": "llava:7b", "messages": [bare]}))[-1]["done"] is True


@pytest.mark.parametrize("think", [True, "high", "low"])
def test_thinking_on_a_model_that_cannot_think_is_a_400(ollama, think):
    body = {"model": "llama3.2", "messages": USER, "think": think}
    assert_error(chat(ollama, body), 400, '"llama3.2" does not support thinking')


@pytest.mark.parametrize(
    ("think", "error"),
    [
        ("banana", f'invalid think value: "banana" (must be {THINK_CHOICES})'),
        ("", f'invalid think value: "" (must be {THINK_CHOICES})'),
        (1, f"think must be a boolean or string ({THINK_CHOICES})"),
    ],
)
def test_an_invalid_think_value_is_a_400(ollama, think, error):
    assert_error(chat(ollama, {"model": "qwen3:8b", "messages": USER, "think": think}), 400, error)


def test_a_thinking_model_thinks_unless_told_not_to(ollama):
    def thought(**think) -> str:
        lines = ndjson(chat(ollama, {"model": "qwen3:8b", "messages": USER, **think}))
        return "".join(line["message"].get("thinking", "") for line in lines)

    assert thought() and thought(think=True) and thought(think="low")
    assert thought(think=False) == ""
    ollama.enqueue_chat("4", thinking=("2+2",))
    assert thought(think=False) == ""  # even a scripted thought is left out
    assert ndjson(chat(ollama, {"model": "llama3.2", "messages": USER, "think": False}))[-1]["done"]


@pytest.mark.parametrize(
    ("keep_alive", "error"),
    [
        ("300", 'time: missing unit in duration "300"'),
        (True, "Unsupported type: 'bool'"),
        ({"minutes": 5}, "Unsupported type: 'map[string]interface {}'"),
        ("5 minutes", 'time: unknown unit " minutes" in duration "5 minutes"'),
        ("soon", 'time: invalid duration "soon"'),
        ("", 'time: invalid duration ""'),
    ],
)
def test_keep_alive_must_be_seconds_or_a_duration_with_a_unit(ollama, keep_alive, error):
    body = {"model": "llama3.2", "messages": USER, "keep_alive": keep_alive}
    assert_error(chat(ollama, body), 400, error)


@pytest.mark.parametrize("keep_alive", [300, 1.5, -1, "5m", "1h30m", "-1s", "0.5h", None, 0, "0"])
def test_valid_keep_alives_are_accepted(ollama, keep_alive):
    body = {"model": "llama3.2", "messages": USER, "keep_alive": keep_alive}
    assert ndjson(chat(ollama, body))[-1]["done_reason"] == "stop"


@pytest.mark.parametrize("keep_alive", [0, 0.0, "0", "0s", "0m"])
def test_no_messages_and_keep_alive_zero_unloads_before_any_capability_check(ollama, keep_alive):
    ollama.running.append(running_model("llama3.2:latest"))
    answer = chat(ollama, {"model": "llama3.2", "keep_alive": keep_alive, "think": True})

    assert (answer.status_code, answer.headers["content-type"]) == (200, JSON)
    assert answer.json() | {"created_at": ""} == {
        "model": "llama3.2",
        "created_at": "",
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "unload",
    }
    assert ollama.running == []
    assert_error(chat(ollama, {"model": "gone", "keep_alive": keep_alive}), 404, "model 'gone' not found")


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"temperature": "hot"}, 'option "temperature" must be of type float32'),
        ({"temperature": True}, 'option "temperature" must be of type float32'),
        ({"num_ctx": "4096"}, 'option "num_ctx" must be of type integer'),
        ({"stop": "END"}, 'option "stop" must be of type array'),
        ({"stop": ["END", 1]}, 'option "stop" must be of an array of strings'),
        ({"use_mmap": "yes"}, 'option "use_mmap" must be of type boolean'),
    ],
)
@pytest.mark.parametrize("messages", [USER, []])  # checked before the model loads
def test_an_option_of_the_wrong_type_is_a_500(ollama, options, error, messages):
    assert_error(chat(ollama, {"model": "llama3.2", "messages": messages, "options": options}), 500, error)


def test_good_options_pass_and_unknown_ones_are_ignored(ollama):
    options = {
        "temperature": 1,
        "top_p": 0.9,
        "num_ctx": 4096.7,
        "seed": None,
        "stop": ["END"],
        "mirostat": 2,
        "tempreature": "typo",
    }
    assert ndjson(chat(ollama, {"model": "llama3.2", "messages": USER, "options": options}))[-1]["done"]


@pytest.mark.parametrize(
    ("format", "shown"),
    [("xml", '"\\"xml\\""'), (123, '"123"'), (["json"], '"[\\"json\\"]"'), (False, '"false"')],
)
def test_an_invalid_format_is_a_500_before_any_output(ollama, format, shown):
    body = {"model": "llama3.2", "messages": USER, "format": format}
    error = f'invalid format: {shown}; expected "json" or a valid JSON Schema object'
    assert_error(chat(ollama, body), 500, error, content_type="application/json")
    assert_error(chat(ollama, body | {"stream": False}), 500, error, content_type="application/json")


@pytest.mark.parametrize("format", [None, "", "json", {"type": "object", "properties": {}}])
def test_valid_formats_are_accepted(ollama, format):
    body = {"model": "llama3.2", "messages": USER, "format": format}
    assert ndjson(chat(ollama, body))[-1]["done"] is True


def test_tools_and_chat_need_the_capability(ollama):
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    assert_error(
        chat(ollama, {"model": "llava:7b", "messages": USER, "tools": [tool]}),
        400,
        "registry.ollama.ai/library/llava:7b does not support tools",
    )
    assert ndjson(chat(ollama, {"model": "llava:7b", "messages": USER, "tools": []}))[-1]["done"]
    pulled = httpx.post(f"{ollama.url}/api/pull", json={"model": "nomic-embed-text", "stream": False})
    assert pulled.json() == {"status": "success"}
    assert_error(
        chat(ollama, {"model": "nomic-embed-text", "messages": USER}),
        400,
        '"nomic-embed-text" does not support chat',
    )


# Streams and replies ----------------------------------------------------------------


def test_a_stream_is_compact_ndjson_echoing_the_model_and_ending_in_done_with_stats(ollama):
    ollama.enqueue_chat("Hel", "lo <b> & ü")
    response = chat(ollama, {"model": "Llama3.2", "messages": USER})
    lines = ndjson(response)

    assert b'": ' not in response.content and b', "' not in response.content  # Go's compact JSON
    assert b"\\u003cb\\u003e \\u0026 \xc3\xbc" in response.content  # <, > and & escaped; UTF-8 kept
    assert [line["model"] for line in lines] == ["Llama3.2"] * 3
    assert [line["done"] for line in lines] == [False, False, True]
    assert "".join(line["message"]["content"] for line in lines) == "Hello <b> & ü"
    for line in lines:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", line["created_at"])
        assert line["message"]["role"] == "assistant" and "images" not in line["message"]
    final = lines[-1]
    assert final["done_reason"] == "stop"
    metrics = {key: value for key, value in final.items() if key.endswith(("_duration", "_count"))}
    assert metrics and all(isinstance(value, int) and value > 0 for value in metrics.values())


def test_zero_metrics_are_left_out_of_the_final_chunk(ollama):
    final = ndjson(chat(ollama, {"model": "llama3.2", "messages": USER}))[-1]
    assert "load_duration" not in final  # the model was already loaded
    assert final["eval_count"] > 0 and final["total_duration"] > 0

    ollama.enqueue_chat("Hi", stats={"load_duration": 21_000_000, "prompt_eval_count": 0})
    final = ndjson(chat(ollama, {"model": "llama3.2", "messages": USER}))[-1]
    assert final["load_duration"] == 21_000_000 and "prompt_eval_count" not in final


def test_a_non_streaming_reply_is_one_object_with_the_text_joined(ollama):
    ollama.enqueue_completion("A title")
    answer = chat(ollama, {"model": "llama3.2", "messages": USER, "stream": False})
    assert (answer.status_code, answer.headers["content-type"]) == (200, JSON)
    body = answer.json()
    assert body["message"] == {"role": "assistant", "content": "A title"}
    assert body["done"] is True and body["done_reason"] == "stop"
    ollama.enqueue_completion(error="model runner has unexpectedly stopped", status=500)
    assert_error(
        chat(ollama, {"model": "llama3.2", "messages": USER, "stream": False}),
        500,
        "model runner has unexpectedly stopped",
    )


def test_loading_answers_one_json_object_even_when_streaming(ollama):
    answer = chat(ollama, {"model": "llama3.2", "messages": []})
    assert (answer.status_code, answer.headers["content-type"]) == (200, JSON)
    assert answer.json()["done_reason"] == "load" and answer.json()["message"] == {
        "role": "assistant",
        "content": "",
    }
    assert [m["name"] for m in httpx.get(f"{ollama.url}/api/ps").json()["models"]] == ["llama3.2:latest"]


@pytest.mark.parametrize("status", [500, 503])
def test_an_error_before_any_chunk_is_a_real_status_and_one_json_object(ollama, status):
    ollama.enqueue_stream_error(error="model runner has unexpectedly stopped", status=status)
    response = chat(ollama, {"model": "llama3.2", "messages": USER})

    assert_error(response, status, "model runner has unexpectedly stopped", content_type="application/json")
    assert response.content == b'{"error":"model runner has unexpectedly stopped"}'


def test_an_error_after_a_chunk_is_one_more_line_under_200_and_no_done_line(ollama):
    ollama.enqueue_stream_error("Once ", "upon", error="an unknown error was encountered")
    lines = ndjson(chat(ollama, {"model": "llama3.2", "messages": USER}))

    assert [line.get("message", {}).get("content") for line in lines[:2]] == ["Once ", "upon"]
    assert lines[2:] == [{"error": "an unknown error was encountered"}]


def test_a_scripted_refusal_is_its_status_before_any_output(ollama):
    ollama.enqueue_error(503, "server busy, please try again.  maximum pending requests exceeded")
    assert_error(
        chat(ollama, {"model": "llama3.2", "messages": USER}),
        503,
        "server busy, please try again.  maximum pending requests exceeded",
    )


def test_a_chunked_request_body_is_read(ollama):
    body = json.dumps({"model": "llama3.2", "messages": USER}).encode()
    response = httpx.post(f"{ollama.url}/api/chat", content=iter([body[:10], body[10:]]))
    assert ndjson(response)[-1]["done"] is True
    assert ollama.chat_requests()[-1].json == {"model": "llama3.2", "messages": USER}


# Routing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/chat"),
        ("DELETE", "/api/chat"),
        ("POST", "/api/tags"),
        ("GET", "/api/delete"),
        ("POST", "/api/delete"),
        ("PUT", "/api/show"),
        ("POST", "/"),
        ("GET", "/api/generate"),
    ],
)
def test_a_wrong_method_on_a_known_path_is_a_plain_text_405(ollama, method, path):
    response = request(ollama, method, path, content=b"")
    assert (response.status_code, response.headers["content-type"]) == (405, "text/plain")
    assert response.text == "405 method not allowed"


def test_a_head_request_on_a_get_only_path_is_a_405(ollama):
    response = httpx.head(f"{ollama.url}/api/ps")
    assert response.status_code == 405 and response.content == b""


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/nothing"), ("POST", "/api/stop"), ("GET", "/v2")])
def test_an_unknown_path_is_a_plain_text_404(ollama, method, path):
    response = request(ollama, method, path, content=b"")
    assert (response.status_code, response.headers["content-type"]) == (404, "text/plain")
    assert response.text == "404 page not found"


def test_the_query_string_is_not_part_of_the_path(ollama):
    assert httpx.get(f"{ollama.url}/api/tags?verbose=1").status_code == 200
    assert ollama.requests[-1].path == "/api/tags"


def test_the_root_says_ollama_is_running(ollama):
    response = httpx.get(f"{ollama.url}/")
    assert (response.status_code, response.headers["content-type"]) == (200, "text/plain; charset=utf-8")
    assert response.text == "Ollama is running"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/", "text/plain; charset=utf-8"), ("/api/tags", JSON), ("/api/version", JSON)],
)
def test_head_answers_like_get_without_a_body(ollama, path, content_type):
    got = httpx.get(f"{ollama.url}{path}")
    head = httpx.head(f"{ollama.url}{path}")
    assert (head.status_code, head.headers["content-type"]) == (200, content_type)
    assert head.content == b"" and head.headers["content-length"] == str(len(got.content))


def test_the_fake_says_which_ollama_endpoints_it_does_not_serve(ollama):
    response = httpx.post(f"{ollama.url}/api/generate", json={"model": "llama3.2", "prompt": "hi"})
    assert response.status_code == 501 and "POST /api/generate" in response.json()["error"]


# Model management -------------------------------------------------------------------


def test_ps_entries_carry_a_full_digest_and_the_same_details_as_tags(ollama):
    chat(ollama, {"model": "qwen3:8b", "messages": []})
    ollama.running.append(running_model("llava:7b", expires_in=10))
    tags = {m["name"]: m for m in httpx.get(f"{ollama.url}/api/tags").json()["models"]}
    running = httpx.get(f"{ollama.url}/api/ps").json()["models"]

    assert [m["name"] for m in running] == ["qwen3:8b", "llava:7b"]  # most time left first
    for entry in running:
        assert list(entry) == [
            "name",
            "model",
            "size",
            "digest",
            "details",
            "expires_at",
            "size_vram",
            "context_length",
        ]
        assert re.fullmatch(r"[0-9a-f]{64}", entry["digest"])
        assert entry["digest"] == tags[entry["name"]]["digest"]
        assert entry["details"] == tags[entry["name"]]["details"]
    assert len({m["digest"] for m in tags.values()}) == len(tags)


def test_tags_entries_have_the_documented_shape(ollama):
    models = httpx.get(f"{ollama.url}/api/tags").json()["models"]
    for model in models:
        assert list(model) == ["name", "model", "modified_at", "size", "digest", "details"]
        assert re.fullmatch(r"[0-9a-f]{64}", model["digest"])
        assert set(model["details"]) == {
            "parent_model",
            "format",
            "family",
            "families",
            "parameter_size",
            "quantization_level",
        }


def test_delete_checks_its_body_and_takes_name_as_an_alias(ollama):
    delete = "DELETE", "/api/delete"
    assert_error(
        request(ollama, *delete, {"model": 5}),
        400,
        "json: cannot unmarshal number into Go struct field DeleteRequest.model of type string",
    )
    assert_error(
        request(ollama, *delete, {"name": ["llava:7b"]}),
        400,
        "json: cannot unmarshal array into Go struct field DeleteRequest.name of type string",
    )
    assert_error(request(ollama, *delete, {}), 400, 'name "" is invalid')
    deleted = request(ollama, *delete, {"name": "llava:7b"})
    assert deleted.status_code == 200 and deleted.content == b""
    assert ollama.find_model("llava:7b") is None


def test_show_takes_name_as_an_alias_and_normalises_the_missing_name(ollama):
    assert httpx.post(f"{ollama.url}/api/show", json={"name": "llama3.2"}).json()["capabilities"]
    assert_error(request(ollama, "POST", "/api/show", {}), 400, "model is required")
    assert_error(
        request(ollama, "POST", "/api/show", {"model": "nope"}), 404, "model 'nope:latest' not found"
    )


def test_pull_and_copy_check_their_names(ollama):
    assert_error(request(ollama, "POST", "/api/pull", {}), 400, "invalid model name")
    assert_error(
        request(ollama, "POST", "/api/pull", {"model": "no-such", "stream": False}),
        500,
        "pull model manifest: file does not exist",
    )
    assert_error(
        request(ollama, "POST", "/api/copy", {"source": 1, "destination": "x"}),
        400,
        "json: cannot unmarshal number into Go struct field CopyRequest.source of type string",
    )
    assert_error(
        request(ollama, "POST", "/api/copy", {"source": "llama3.2"}), 400, 'destination "" is invalid'
    )


# Tools -------------------------------------------------------------------------------

TOOLS = [
    {"type": "function", "function": {"name": "add", "description": "", "parameters": {"type": "object"}}}
]


def test_tools_for_a_model_without_the_capability_are_a_400(ollama):
    body = {"model": "llava:7b", "messages": USER, "tools": TOOLS}
    assert_error(chat(ollama, body), 400, "registry.ollama.ai/library/llava:7b does not support tools")
    assert ndjson(chat(ollama, {"model": "llava:7b", "messages": USER, "tools": []}))[-1]["done"] is True


def test_a_tool_trigger_calls_the_tool_then_echoes_its_result(ollama):
    question = {"role": "user", "content": 'go [[tool:add {"a": 1, "b": 2}]] [[tool:add]]'}
    lines = ndjson(chat(ollama, {"model": "llama3.2", "messages": [question], "tools": TOOLS}))

    calls = [line["message"]["tool_calls"] for line in lines if "tool_calls" in line["message"]]
    assert [len(call) for call in calls] == [1, 1]  # each call whole, in a chunk of its own
    first, second = calls[0][0], calls[1][0]
    assert re.fullmatch(r"call_[0-9a-f]{8}", first["id"])
    assert first["function"] == {"index": 0, "name": "add", "arguments": {"a": 1, "b": 2}}
    assert second["function"] == {"index": 1, "name": "add", "arguments": {}}
    assert all(
        line["done"] is False and line["message"]["content"] == ""
        for line in lines
        if "tool_calls" in line["message"]
    )
    assert lines[-1]["done"] is True

    results = [
        {"role": "assistant", "content": "", "tool_calls": calls[0] + calls[1]},
        {"role": "tool", "tool_name": "add", "content": "3"},
        {"role": "tool", "tool_name": "add", "content": "0"},
    ]
    answer = ndjson(chat(ollama, {"model": "llama3.2", "messages": [question, *results], "tools": TOOLS}))
    assert "".join(line["message"]["content"] for line in answer) == "Tool results: 3 | 0"


def test_without_tools_a_trigger_is_only_text(ollama):
    question = {"role": "user", "content": "[[tool:add]]"}
    lines = ndjson(chat(ollama, {"model": "llama3.2", "messages": [question]}))
    assert not any("tool_calls" in line["message"] for line in lines)
