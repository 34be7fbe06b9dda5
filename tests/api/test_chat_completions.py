"""/v1/chat/completions with the real `openai` client, against a live app and the fake Ollama."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("ollama")


def test_a_script_that_keeps_its_own_history_continues_one_stored_conversation(api, ollama):
    client = api.client()
    history = [{"role": "system", "content": "Be brief."}]
    answers = []
    for question, answer in [("Hi", "Hello!"), ("How are you?", "Fine."), ("Bye", "Goodbye.")]:
        ollama.enqueue_chat(answer)
        history.append({"role": "user", "content": question})
        completion = client.chat.completions.create(model="llama3.2", messages=history)
        reply = completion.choices[0].message.content
        history.append({"role": "assistant", "content": reply})
        answers.append(completion)
    assert [a.choices[0].message.content for a in answers] == ["Hello!", "Fine.", "Goodbye."]
    assert answers[0].choices[0].finish_reason == "stop"
    assert answers[0].usage.prompt_tokens == 12 and answers[0].usage.completion_tokens == 1
    # One conversation: each call after the first is its continuation.
    assert len({a.model_extra["conversation"] for a in answers}) == 1
    last = ollama.chat_requests()[-1].json["messages"]
    assert last == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "How are you?"},
        {"role": "assistant", "content": "Fine."},
        {"role": "user", "content": "Bye"},
    ]
    sidebar = api.browser.get("/c/").json()
    assert len([c for group in sidebar["groups"] for c in group["conversations"]]) == 1
