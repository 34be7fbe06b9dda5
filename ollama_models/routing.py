from django.urls import path

from ollama_models.consumer import ModelsConsumer

websocket_urlpatterns = [path("ws/models/", ModelsConsumer.as_asgi())]
