from django.apps import AppConfig


class OpenaiApiConfig(AppConfig):
    """The OpenAI-compatible API under /v1/ and the API keys page. It has no models of its own:
    keys and conversations are the conversations app's."""

    name = "openai_api"
    verbose_name = "OpenAI-compatible API"
