from django.apps import AppConfig


class OllamaModelsConfig(AppConfig):
    """The Models page: what Ollama has and runs, pulls, load and unload. It has no models of its own."""

    name = "ollama_models"
