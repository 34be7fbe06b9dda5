from django.urls import path

from conversations.consumers import ChatConsumer
from conversations.model_consumers import ModelsConsumer

websocket_urlpatterns = [
    path("ws/conversations/<uuid:conversation_id>/", ChatConsumer.as_asgi()),
    path("ws/models/", ModelsConsumer.as_asgi()),
]
