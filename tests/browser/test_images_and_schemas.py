"""Images for vision models and structured output, in a real browser against the fake Ollama."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import FilePayload, Locator, Page, expect

from tests.browser.conftest import (
    MODEL,
    assistant_articles,
    message_box,
    send_message,
    streaming_text,
    user_articles,
)

pytestmark = pytest.mark.browser

VISION_MODEL = "llava:7b"
PERSON_SCHEMA = (
    '{"type":"object","properties":{"name":{"type":"string","title":"Name"},'
    '"age":{"type":"integer","title":"Age"},"member":{"type":"boolean","title":"Member"}},'
    '"required":["name"]}'
)


# Helpers -------------------------------------------------------------------


def png(tmp_path: Path, name: str = "red.png", color: tuple[int, int, int] = (200, 30, 30)) -> Path:
    path = tmp_path / name
    Image.new("RGB", (48, 32), color).save(path, format="PNG")
    return path


def attached(page: Page) -> Locator:
    """The thumbnails waiting in the composer."""
    return page.get_by_role("list", name="Attached images").get_by_role("listitem")


def attach(page: Page, *files: Path | FilePayload) -> None:
    """Attach images the way people do: the "Attach image" button, then the file chooser."""
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach image").click()
    assert chooser.value.is_multiple()
    chooser.value.set_files(list(files))


def pick(page: Page, name: str) -> None:
    """Choose a model by its name (options read "name · what it can do · size", e.g. "llava:7b · vision · 7B")."""
    picker = page.get_by_label("Model")
    expect(picker.locator(f'option[value="{name}"]')).to_have_count(1)
    picker.select_option(value=name)
    expect(picker).to_have_value(name)


def chat_request_for(ollama, text: str, timeout: float = 5.0):
    """The streaming /api/chat request whose last message is `text` (title requests aside)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for request in ollama.chat_requests():
            messages = (request.json or {}).get("messages") or []
            if messages and messages[-1].get("content") == text:
                return request
        time.sleep(0.02)
    raise AssertionError(f"no chat request ended with {text!r}")


def open_panel(page: Page) -> Locator:
    toggle = page.get_by_role("button", name="Structured output")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    panel = page.get_by_role("region", name="Structured output")
    expect(panel).to_be_visible()
    return panel


def structured_reply(article: Locator) -> Locator:
    return article.get_by_role("region", name="Structured reply")


# Images --------------------------------------------------------------------


def test_an_image_goes_to_a_vision_model(signed_in_page: Page, ollama, tmp_path):
    page = signed_in_page
    image = png(tmp_path)
    expect(page.get_by_label("Model").locator(f'option[value="{VISION_MODEL}"]')).to_have_text(
        f"{VISION_MODEL} · vision · 7B"
    )
    expect(page.get_by_label("Model").locator(f'option[value="{MODEL}"]')).not_to_contain_text("vision")

    attach(page, image)
    expect(attached(page)).to_have_count(1)
    thumbnail = attached(page).get_by_role("img", name="red.png")
    expect(thumbnail).to_be_visible()
    expect(thumbnail).to_have_js_property("complete", True)
    assert thumbnail.evaluate("img => img.naturalWidth") > 0
    expect(attached(page).get_by_role("button", name="Remove")).to_be_visible()

    pick(page, VISION_MODEL)
    ollama.enqueue_chat("A ", "small ", "red ", "rectangle.", delay=0.3)
    send_message(page, "What is in this picture?")
    partial = streaming_text(page, 0, "A small")
    assert "rectangle." not in partial, f"expected a partial reply, saw {partial!r}"

    user = user_articles(page).first
    expect(user.locator(".content")).to_have_text("What is in this picture?")
    link = user.get_by_role("link", name="Attached image 1")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener")
    expect(link.get_by_role("img")).to_have_js_property("complete", True)
    assert link.get_by_role("img").evaluate("img => img.naturalWidth") > 0

    reply = assistant_articles(page).first
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".content")).to_have_text("A small red rectangle.")
    expect(attached(page)).to_have_count(0)
    expect(message_box(page)).to_have_value("")

    request = chat_request_for(ollama, "What is in this picture?")
    assert request.json["model"] == VISION_MODEL
    assert request.json["messages"][-1]["images"] == [base64.b64encode(image.read_bytes()).decode("ascii")]

    page.reload()  # the history shows the same thumbnail
    expect(user_articles(page).first.get_by_role("link", name="Attached image 1")).to_be_visible()


def test_a_model_that_cannot_see_gets_a_warning_and_a_switch(signed_in_page: Page, ollama, tmp_path):
    page = signed_in_page
    attach(page, png(tmp_path, "one.png"), png(tmp_path, "two.png", (30, 30, 200)))
    expect(attached(page)).to_have_count(2)

    warning = page.get_by_role("alert").filter(has_text="cannot see images")
    expect(warning).to_have_text(f"{MODEL} cannot see images. Switch to {VISION_MODEL}")
    switch = warning.get_by_role("button", name=f"Switch to {VISION_MODEL}")
    expect(switch).to_be_visible()

    send_message(page, "Describe these")  # blocked while the warning stands
    expect(message_box(page)).to_have_value("Describe these")
    expect(user_articles(page)).to_have_count(0)
    expect(attached(page)).to_have_count(2)
    assert not ollama.chat_requests()

    switch.click()
    expect(page.get_by_label("Model")).to_have_value(VISION_MODEL)
    expect(warning).to_be_hidden()

    attached(page).get_by_role("button", name="Remove one.png").click()
    expect(attached(page)).to_have_count(1)
    expect(attached(page).get_by_role("img", name="two.png")).to_be_visible()

    pick(page, MODEL)
    expect(warning).to_be_visible()
    attached(page).get_by_role("button", name="Remove two.png").click()
    expect(attached(page)).to_have_count(0)
    expect(warning).to_be_hidden()


def test_removing_an_attached_image_takes_the_upload_back(
    signed_in_page: Page, live_server_url: str, ollama, tmp_path
):
    page = signed_in_page
    pick(page, VISION_MODEL)
    message_box(page).fill("Only the blue one")
    blue = png(tmp_path, "blue.png", (30, 30, 200))
    attach(page, png(tmp_path, "red.png"), blue)
    expect(attached(page).get_by_role("img")).to_have_count(2)
    thumbnail = attached(page).get_by_role("img", name="red.png").get_attribute("src")
    assert thumbnail.endswith("/thumbnail/")
    removed = thumbnail.removesuffix("thumbnail/")
    kept = attached(page).get_by_role("img", name="blue.png").get_attribute("src").removesuffix("thumbnail/")

    def status(path: str) -> int:  # as the owner: the page's cookies go along
        return page.request.get(f"{live_server_url}{path}").status

    assert status(removed) == 200

    with page.expect_response(lambda r: r.url.endswith(f"{removed}remove/")) as answer:
        attached(page).get_by_role("button", name="Remove red.png").click()
    assert answer.value.request.method == "POST"
    assert answer.value.status == 204
    expect(attached(page).get_by_role("img")).to_have_count(1)
    expect(message_box(page)).to_have_value("Only the blue one")

    ollama.enqueue_chat("Blue.")
    message_box(page).press("Enter")
    expect(assistant_articles(page).first).to_have_attribute("data-status", "complete")
    expect(user_articles(page).first.get_by_role("link")).to_have_count(1)
    images = chat_request_for(ollama, "Only the blue one").json["messages"][-1]["images"]
    assert images == [base64.b64encode(blue.read_bytes()).decode("ascii")]
    assert status(removed) == 404
    assert status(thumbnail) == 404
    assert status(kept) == 200


def test_a_failed_removal_keeps_the_image_removed_and_the_text(signed_in_page: Page, ollama, tmp_path):
    page = signed_in_page
    page.route("**/images/*/remove/", lambda route: route.fulfill(status=500, body="Server error"))
    pick(page, VISION_MODEL)
    message_box(page).fill("Keep typing")
    attach(page, png(tmp_path))
    expect(attached(page).get_by_role("img")).to_have_count(1)

    with page.expect_response("**/images/*/remove/") as answer:
        attached(page).get_by_role("button", name="Remove red.png").click()
    assert answer.value.status == 500
    page.wait_for_timeout(200)  # whatever the page does with the failure, it has done it
    expect(attached(page)).to_have_count(0)
    expect(page.get_by_role("list", name="Attached images")).to_be_hidden()
    expect(message_box(page)).to_have_value("Keep typing")
    expect(page.locator("#composer-error")).to_be_hidden()


def test_no_installed_vision_model_says_how_to_get_one(signed_in_page: Page, ollama, tmp_path):
    page = signed_in_page
    ollama.models = [model for model in ollama.models if "vision" not in model["capabilities"]]
    page.reload()
    pick(page, MODEL)
    attach(page, png(tmp_path))
    warning = page.get_by_role("alert").filter(has_text="can see images")
    expect(warning).to_have_text(
        "No installed model can see images. Pull one, for example `ollama pull llava`."
    )
    expect(warning.get_by_role("button")).to_be_hidden()


def test_a_rejected_upload_shows_the_servers_reason(signed_in_page: Page, ollama, tmp_path):
    page = signed_in_page
    fake = tmp_path / "notes.png"
    fake.write_text("These are notes, not a picture.\n")
    message_box(page).fill("Keep this text")

    attach(page, fake)
    error = page.locator("#composer-error")
    expect(error).to_have_text("“notes.png” is not an image; attach a PNG, JPEG, WebP or GIF image.")
    expect(attached(page)).to_have_count(0)
    expect(page.get_by_role("list", name="Attached images")).to_be_hidden()
    expect(message_box(page)).to_have_value("Keep this text")

    # The page checks the size limit itself, before uploading anything.
    limit = page.evaluate("JSON.parse(document.getElementById('page-data').textContent).max_image_bytes")
    big: FilePayload = {
        "name": "big.png",
        "mimeType": "image/png",
        "buffer": b"\0" * (limit + 2 * 1024 * 1024),
    }
    attach(page, big)
    mib = 1024 * 1024
    expect(error).to_have_text(
        f"“big.png” is {(limit + 2 * mib) / mib:.1f} MB; images may be at most {limit / mib:.1f} MB."
    )
    expect(attached(page)).to_have_count(0)

    # The page checks the count limit itself; the images that fit still go.
    files = [png(tmp_path, f"p{i}.png", (40 * i, 80, 120)) for i in range(5)]
    attach(page, *files)
    expect(error).to_have_text("“p4.png” was not added: a message can carry at most 4 images.")
    expect(attached(page).get_by_role("img")).to_have_count(4)


DROP_AND_PASTE = """async () => {
    const canvas = document.createElement("canvas");
    canvas.width = 24;
    canvas.height = 16;
    canvas.getContext("2d").fillRect(0, 0, 24, 16);
    const blob = await new Promise((done) => canvas.toBlob(done, "image/png"));
    const transfer = (name) => {
        const data = new DataTransfer();
        data.items.add(new File([blob], name, { type: "image/png" }));
        return data;
    };
    const zone = document.getElementById("composer-box");
    const dropped = transfer("dropped.png");
    zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: dropped, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dropped, bubbles: true, cancelable: true }));
    const paste = new ClipboardEvent("paste", { clipboardData: transfer("pasted.png"), bubbles: true, cancelable: true });
    document.getElementById("message").dispatchEvent(paste);
    return paste.defaultPrevented;
}"""


def test_an_image_attached_after_the_session_ended_says_so(signed_in_page: Page, ollama, tmp_path):
    page = signed_in_page
    page.context.clear_cookies(name="sessionid")

    attach(page, png(tmp_path))

    expect(page.locator("#composer-error")).to_have_text(
        "Your session has ended: sign in again to attach images."
    )
    expect(attached(page)).to_have_count(0)


def test_images_can_be_dropped_or_pasted(signed_in_page: Page, ollama):
    page = signed_in_page
    pick(page, VISION_MODEL)
    message_box(page).fill("Two pictures")
    assert page.evaluate(DROP_AND_PASTE) is True  # an image-only paste adds no text
    expect(attached(page).get_by_role("img")).to_have_count(2)
    expect(attached(page).get_by_role("img", name="dropped.png")).to_be_visible()
    expect(attached(page).get_by_role("img", name="pasted.png")).to_be_visible()
    expect(message_box(page)).to_have_value("Two pictures")

    ollama.enqueue_chat("Two ", "black ", "boxes.")
    message_box(page).press("Enter")
    expect(assistant_articles(page).first).to_have_attribute("data-status", "complete")
    expect(user_articles(page).first.get_by_role("link")).to_have_count(2)
    assert len(chat_request_for(ollama, "Two pictures").json["messages"][-1]["images"]) == 2


def test_the_servers_refusal_to_show_images_to_a_blind_model_is_shown(signed_in_page: Page, ollama, tmp_path):
    page = signed_in_page

    def everyone_can_see(route):  # the page believes the wrong thing; the server knows better
        body = route.fetch().json()
        for model in body["models"]:
            model["capabilities"] = [*model["capabilities"], "vision"]
        route.fulfill(json=body)

    page.route("**/api/models/", everyone_can_see)
    page.reload()
    pick(page, MODEL)
    attach(page, png(tmp_path))
    expect(attached(page).get_by_role("img")).to_have_count(1)
    send_message(page, "What is this?")

    error = page.locator("#composer-error")
    expect(error).to_contain_text("cannot see images")
    expect(error).to_contain_text(VISION_MODEL)
    expect(message_box(page)).to_have_value("What is this?")
    expect(attached(page).get_by_role("img")).to_have_count(1)
    expect(user_articles(page)).to_have_count(0)


# Structured output ---------------------------------------------------------


def test_a_schema_shapes_the_reply_into_a_form(signed_in_page: Page, ollama):
    page = signed_in_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    panel = open_panel(page)
    panel.get_by_label("JSON Schema").fill(PERSON_SCHEMA)
    ollama.enqueue_chat('{"name": ', '"Ada", ', '"age": 36, ', '"member": true}', delay=0.05)
    send_message(page, "Who wrote the first program?")

    reply = assistant_articles(page).first
    expect(reply).to_have_attribute("data-status", "complete")
    form = structured_reply(reply)
    expect(form.get_by_label("Name")).to_have_value("Ada")
    expect(form.get_by_label("Age")).to_have_value("36")
    expect(form.get_by_label("Member")).to_be_checked()
    expect(form.get_by_label("Name")).not_to_be_editable()
    request = chat_request_for(ollama, "Who wrote the first program?")
    assert request.json["format"] == json.loads(PERSON_SCHEMA)

    data = {"name": "Ada", "age": 36, "member": True}
    form.get_by_role("button", name="Show JSON").click()
    expect(form.locator("pre")).to_have_text(json.dumps(data, indent=2))
    expect(form.get_by_label("Name")).to_be_hidden()
    form.get_by_role("button", name="Copy JSON").click()
    expect(form.get_by_role("button", name="Copied")).to_be_visible()
    assert json.loads(page.evaluate("navigator.clipboard.readText()")) == data
    download = form.get_by_role("link", name="Download .json")
    expect(download).to_have_attribute("download", "reply.json")
    with page.expect_download() as saved:
        download.click()
    assert json.loads(Path(saved.value.path()).read_text()) == data
    form.get_by_role("button", name="Show form").click()
    expect(form.get_by_label("Name")).to_have_value("Ada")

    # Closing the panel stops asking for structured output.
    page.get_by_role("button", name="Structured output").click()
    expect(panel).to_be_hidden()
    ollama.enqueue_chat("Plain ", "text.")
    send_message(page, "And now in words?")
    expect(assistant_articles(page).nth(1)).to_have_attribute("data-status", "complete")
    assert "format" not in chat_request_for(ollama, "And now in words?").json

    page.reload()  # the stored reply renders the same way
    form = structured_reply(assistant_articles(page).first)
    expect(form.get_by_label("Name")).to_have_value("Ada")
    expect(form.get_by_label("Member")).to_be_checked()


def test_a_bad_schema_is_caught_before_anything_is_sent(signed_in_page: Page, ollama):
    page = signed_in_page
    panel = open_panel(page)
    schema = panel.get_by_label("JSON Schema")
    schema.fill('{"type": "object",}')
    send_message(page, "Describe a person")

    alert = panel.get_by_role("alert")
    expect(alert).to_contain_text("line 1, column 19")
    expect(schema).to_have_attribute("aria-invalid", "true")
    expect(message_box(page)).to_have_value("Describe a person")
    page.wait_for_timeout(300)
    expect(user_articles(page)).to_have_count(0)
    assert not ollama.chat_requests()

    schema.fill('{"type": "objekt"}')
    expect(alert).to_be_hidden()
    message_box(page).press("Enter")
    expect(alert).to_contain_text("The schema is not valid at $.type: 'objekt' is not valid")
    expect(schema).to_have_value('{"type": "objekt"}')
    expect(message_box(page)).to_have_value("Describe a person")
    expect(user_articles(page)).to_have_count(0)
    assert not ollama.chat_requests()


def test_a_reply_that_breaks_the_schema_lists_the_problems(signed_in_page: Page, ollama):
    page = signed_in_page
    panel = open_panel(page)
    schema = {"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}}, "required": ["age"]}
    panel.get_by_label("JSON Schema").fill(json.dumps(schema))
    ollama.enqueue_chat('{"age": ', "-1}")
    send_message(page, "How old?")

    section = structured_reply(assistant_articles(page).first)
    problems = section.get_by_role("alert")
    expect(problems.get_by_role("listitem")).to_have_text(["$.age: -1 is less than the minimum of 0"])
    expect(section.locator("pre")).to_have_text(json.dumps({"age": -1}, indent=2))
    section.get_by_role("button", name="Show form").click()
    expect(section.get_by_label("Age")).to_have_value("-1")

    ollama.enqueue_chat("Sorry, ", "no JSON today.")
    send_message(page, "Again?")
    section = structured_reply(assistant_articles(page).nth(1))
    expect(section.get_by_role("alert")).to_contain_text("The reply is not valid JSON")
    expect(section.locator("pre")).to_have_text("Sorry, no JSON today.")
    expect(section.locator(".sf-form")).to_have_count(0)
    expect(section.get_by_role("button", name="Show form")).to_have_count(0)


def test_a_damaged_structured_result_still_shows_the_reply(signed_in_page: Page, ollama, app_server):
    """A row changed outside the chat ({"errors": 5}) shows as a reply that does not match, not a broken page."""
    page = signed_in_page
    open_panel(page).get_by_label("JSON Schema").fill(PERSON_SCHEMA)
    ollama.enqueue_chat('{"name": ', '"Ada"}')
    send_message(page, "Who?")
    expect(structured_reply(assistant_articles(page).first).locator("pre")).to_have_text(
        json.dumps({"name": "Ada"}, indent=2)
    )
    app_server.manage(
        "shell",
        "-c",
        "from conversations.models import Message; "
        "Message.objects.filter(role='assistant').update(structured={'errors': 5})",
    )

    page.reload()

    section = structured_reply(assistant_articles(page).first)
    expect(section.get_by_role("alert")).to_contain_text("The reply does not match the requested format")
    expect(section.locator("pre")).to_have_text('{"name": "Ada"}')


def test_examples_json_mode_and_saved_schemas(signed_in_page: Page, ollama):
    page = signed_in_page
    panel = open_panel(page)
    schema = panel.get_by_label("JSON Schema")

    panel.get_by_label("Example").select_option("Task list")
    tasks = json.loads(schema.input_value())
    priority = tasks["properties"]["tasks"]["items"]["properties"]["priority"]
    assert priority["enum"] == ["low", "medium", "high"]
    assert "\n  " in schema.input_value()  # pretty-printed

    panel.get_by_label("Schema name").fill("Tasks")
    panel.get_by_role("button", name="Save schema").click()
    saved = panel.get_by_label("Saved schemas")
    expect(saved.locator("option:checked")).to_have_text("Tasks")

    panel.get_by_label("Example").select_option("Product review")
    assert "rating" in json.loads(schema.input_value())["properties"]
    saved.select_option(label="Tasks")
    assert json.loads(schema.input_value()) == tasks

    panel.get_by_label("Schema name").fill("Broken")
    schema.fill('{"type": 5}')
    panel.get_by_role("button", name="Save schema").click()
    expect(panel.get_by_role("alert")).to_contain_text("The schema is not valid at $.type")

    saved.select_option(label="Tasks")
    panel.get_by_role("button", name="Delete schema").click()
    expect(saved.locator("option")).to_have_text(["Choose…"])
    expect(panel.get_by_role("button", name="Delete schema")).to_be_disabled()

    panel.get_by_label("JSON mode").check()
    expect(schema).to_be_disabled()
    ollama.enqueue_chat('{"answer": ', "42}")
    send_message(page, "Answer in JSON")
    section = structured_reply(assistant_articles(page).first)
    expect(section.locator("pre")).to_have_text(json.dumps({"answer": 42}, indent=2))
    expect(section.get_by_role("button", name="Copy JSON")).to_be_visible()
    assert chat_request_for(ollama, "Answer in JSON").json["format"] == "json"
