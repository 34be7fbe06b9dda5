from django.urls import path

from conversations.chat.consumer import ChatConsumer
from conversations.model_consumers import ModelsConsumer

websocket_urlpatterns = [
    path("ws/conversations/<uuid:conversation_id>/", ChatConsumer.as_asgi()),
    path("ws/models/", ModelsConsumer.as_asgi()),
]
