"""The pages people see before and around the chat carry the product's name; what is not there is
the product's own 404 page."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from conversations.models import SiteSettings
from tests.helpers import signed_in

pytestmark = pytest.mark.django_db

PRODUCT = "Ollama Chat"


def title_and_heading(response) -> tuple[str, str]:
    page = response.content.decode()
    title = page.split("<title>")[1].split("</title>")[0]
    heading = page.split("<h1>")[1].split("</h1>")[0]
    return title, heading


def test_the_first_run_page_names_the_product():
    title, heading = title_and_heading(Client().get("/setup/"))

    assert PRODUCT in title and PRODUCT in heading


def test_the_sign_in_and_sign_up_pages_name_the_product(alice):
    SiteSettings.objects.create(pk=1, sign_up_open=True)

    for path in ("/login/", "/signup/"):
        title, heading = title_and_heading(Client().get(path))
        assert PRODUCT in title and PRODUCT in heading, path


def test_an_unknown_conversation_is_the_products_404_page_with_debug_off(alice, settings):
    settings.DEBUG = False
    response = signed_in(alice).get(f"/c/{uuid.uuid4()}/")

    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    title, heading = title_and_heading(response)
    assert PRODUCT in title and PRODUCT in heading
    assert 'href="/">Back to the chat</a>' in response.content.decode()


def test_a_deleted_or_someone_elses_conversation_is_the_same_404_page(alice, bob, conversation):
    url = conversation.get_absolute_url()
    assert "Back to the chat" in signed_in(bob).get(url).content.decode()
    conversation.delete()
    response = signed_in(alice).get(url)
    assert response.status_code == 404
    assert "Back to the chat" in response.content.decode()
