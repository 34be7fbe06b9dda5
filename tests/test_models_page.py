"""The Models page and its JSON endpoints: status, lists, details, load and unload, staff-only delete and copy."""

from __future__ import annotations

import json

import pytest
from django.http import HttpResponse
from django.test import Client

from tests.fake_ollama import running_model
from tests.helpers import closed_port_url, error_message, error_of


def post(client: Client, url: str, data: object) -> HttpResponse:
    return client.post(url, json.dumps(data), content_type="application/json")


@pytest.mark.django_db
def test_the_page_needs_sign_in(client, alice):
    response = client.get("/models/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_staff_see_the_pull_form_and_others_do_not(client, alice, admin):
    client.force_login(admin)
    page = client.get("/models/").content.decode()
    assert "<h1>Models</h1>" in page and 'href="/"' in page
    assert 'id="pull-form"' in page and 'id="delete-dialog"' in page and 'id="copy-dialog"' in page
    assert "js/models/main.js" in page and "css/models.css" in page
    assert 'name="csrfmiddlewaretoken"' in page

    client.force_login(alice)
    page = client.get("/models/").content.decode()
    assert "<h1>Models</h1>" in page
    assert 'id="pull-form"' not in page and "delete-dialog" not in page and "copy-dialog" not in page
    assert '"is_staff": false' in page
    assert "style=" not in page and "<script>" not in page


@pytest.mark.django_db
def test_it_lists_installed_models_with_badges_fresh_each_time(client, alice, ollama):
    client.force_login(alice)
    models = client.get("/api/models/").json()["models"]
    assert [m["name"] for m in models] == ["llama3.2:latest", "llava:7b", "qwen3:8b"]
    assert models[0] == {
        "name": "llama3.2:latest",
        "size": 2019393189,
        "modified_at": "2025-02-01T09:15:00.5-08:00",
        "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        "family": "llama",
        "parameter_size": "3.2B",
        "quantization": "Q4_K_M",
        "capabilities": ["completion", "tools"],
    }
    assert models[2]["capabilities"] == ["completion", "tools", "thinking"]

    ollama.models.pop()
    assert len(client.get("/api/models/").json()["models"]) == 2  # /api/tags is not cached
    shows = len(ollama.requests_to("/api/show"))
    client.get("/api/models/")
    assert len(ollama.requests_to("/api/show")) == shows  # the badges are


@pytest.mark.django_db
def test_it_reports_ollamas_version_or_that_it_is_unreachable(client, alice, ollama, settings):
    client.force_login(alice)
    assert client.get("/models/status/").json() == {
        "reachable": True,
        "version": "0.12.6",
        "host": ollama.url,
        "error": "",
    }
    settings.OLLAMA_HOST = closed_port_url()
    status = client.get("/models/status/").json()
    assert status["reachable"] is False and "Cannot reach Ollama" in status["error"]
    response = client.get("/api/models/")
    assert response.status_code == 502 and response.json()["error"]["code"] == "unreachable"


@pytest.mark.django_db
def test_it_shows_a_models_details(client, alice, ollama):
    client.force_login(alice)
    details = client.get("/models/details/", {"model": "llava:7b"}).json()
    assert details["context_length"] == 32768
    assert details["parameters"].startswith("stop ")
    assert details["template"] == "{{ .Prompt }}"
    assert details["license"] == "Example licence text"
    assert "vision" in details["capabilities"]

    assert client.get("/models/details/", {"model": "nope"}).status_code == 404
    assert client.get("/models/details/", {"model": "bad name!"}).status_code == 400
    assert client.get("/models/details/").status_code == 400


@pytest.mark.django_db
def test_running_models_show_sizes_and_when_they_unload(client, alice, ollama):
    ollama.running.append(running_model("llama3.2:latest", expires_in=240))
    client.force_login(alice)
    [model] = client.get("/models/running/").json()["models"]
    assert model["name"] == "llama3.2:latest"
    assert model["size"] == 3_000_000_000 and model["size_vram"] == 3_000_000_000
    assert model["expires_at"] == ollama.running[0]["expires_at"]


@pytest.mark.django_db
def test_any_user_can_load_and_unload_and_gets_the_new_running_list(client, alice, ollama):
    client.force_login(alice)
    loaded = post(client, "/models/load/", {"model": "llama3.2"})
    assert loaded.status_code == 200
    assert [m["name"] for m in loaded.json()["running"]] == ["llama3.2:latest"]
    assert ollama.chat_requests()[-1].json == {"model": "llama3.2", "messages": []}

    unloaded = post(client, "/models/unload/", {"model": "llama3.2"})
    assert unloaded.status_code == 200 and unloaded.json()["running"] == []
    assert ollama.chat_requests()[-1].json == {"model": "llama3.2", "messages": [], "keep_alive": 0}


@pytest.mark.django_db
def test_load_refuses_bad_input_and_reports_unknown_models(client, alice, ollama):
    client.force_login(alice)
    assert post(client, "/models/load/", {"model": "x y"}).status_code == 400
    assert post(client, "/models/load/", ["llama3.2"]).status_code == 400
    assert client.post("/models/load/", "{", content_type="application/json").status_code == 400
    assert client.get("/models/load/").status_code == 405
    missing = post(client, "/models/unload/", {"model": "ghost"})
    assert missing.status_code == 404
    assert error_of(missing) == {
        "code": "model_not_found",
        "message": "Ollama has no model named ghost.",
    }


@pytest.mark.django_db
def test_staff_delete_a_model(client, admin, ollama):
    client.force_login(admin)
    client.get("/api/models/")  # the badges are now cached
    response = post(client, "/models/delete/", {"model": "llava:7b"})

    assert response.status_code == 200 and response.json() == {"deleted": "llava:7b"}
    assert ollama.requests_to("/api/delete")[-1].method == "DELETE"
    assert ollama.requests_to("/api/delete")[-1].json == {"model": "llava:7b"}
    assert [m["name"] for m in client.get("/api/models/").json()["models"]] == [
        "llama3.2:latest",
        "qwen3:8b",
    ]
    assert post(client, "/models/delete/", {"model": "llava:7b"}).status_code == 404


@pytest.mark.django_db
def test_staff_copy_a_model_under_a_new_name(client, admin, ollama):
    client.force_login(admin)
    response = post(client, "/models/copy/", {"source": "llama3.2", "destination": "my-llama"})

    assert response.status_code == 201
    assert ollama.requests_to("/api/copy")[-1].json == {"source": "llama3.2", "destination": "my-llama"}
    models = {m["name"]: m for m in client.get("/api/models/").json()["models"]}
    assert models["my-llama:latest"]["capabilities"] == ["completion", "tools"]
    assert post(client, "/models/copy/", {"source": "ghost", "destination": "x"}).status_code == 404
    assert post(client, "/models/copy/", {"source": "llama3.2", "destination": ""}).status_code == 400
    assert post(client, "/models/copy/", {"source": "llama3.2"}).status_code == 400


@pytest.mark.django_db
def test_only_staff_may_delete_or_copy(client, alice, ollama):
    client.force_login(alice)
    deleted = post(client, "/models/delete/", {"model": "llava:7b"})
    copied = post(client, "/models/copy/", {"source": "llama3.2", "destination": "mine"})

    assert deleted.status_code == 403 and error_message(deleted) == "Only staff can do that."
    assert copied.status_code == 403
    assert not ollama.requests_to("/api/delete") and not ollama.requests_to("/api/copy")
    assert ollama.find_model("llava:7b") is not None


@pytest.mark.django_db
def test_changes_need_the_csrf_token(admin, ollama):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    for url, body in [
        ("/models/load/", {"model": "llama3.2"}),
        ("/models/delete/", {"model": "llava:7b"}),
        ("/models/copy/", {"source": "llama3.2", "destination": "x"}),
    ]:
        assert post(client, url, body).status_code == 403, url
    assert not ollama.chat_requests() and ollama.find_model("llava:7b") is not None


@pytest.mark.django_db
def test_copying_onto_an_installed_model_needs_the_request_to_say_so(client, admin, ollama):
    client.force_login(admin)
    before = ollama.find_model("llava:7b")["digest"]

    refused = post(client, "/models/copy/", {"source": "llama3.2", "destination": "llava:7b"})

    assert refused.status_code == 409
    assert error_of(refused) == {
        "code": "exists",
        "message": "Replace llava:7b with a copy of llama3.2:latest?",
    }
    assert not ollama.requests_to("/api/copy")
    assert ollama.find_model("llava:7b")["digest"] == before

    meant = post(
        client, "/models/copy/", {"source": "llama3.2", "destination": "llava:7b", "overwrite": True}
    )

    assert meant.status_code == 201
    assert ollama.find_model("llava:7b")["digest"] == ollama.find_model("llama3.2")["digest"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"source": "llama3.2", "destination": "llama3.2:latest"}, "A model cannot be copied onto itself"),
        (
            {"source": "llama3.2", "destination": "new", "overwrite": "yes"},
            "overwrite must be true or false.",
        ),
        ({"source": "llama3.2", "destination": "new", "overwrite": 1}, "overwrite must be true or false."),
        ({"source": "llama3.2", "destination": "a\x00b"}, "contains a NUL character at $.destination."),
        ({"source": "llama3.2", "destination": "a\ud800b"}, "contains a lone surrogate"),
        ({"source": "llama3.2", "destination": "x" * 10_000}, "Destination: that is not a valid model name."),
    ],
)
def test_a_copy_that_makes_no_sense_is_refused(client, admin, ollama, body, expected):
    client.force_login(admin)

    response = post(client, "/models/copy/", body)

    assert response.status_code == 400
    assert expected in error_of(response)["message"]
    assert not ollama.requests_to("/api/copy")
