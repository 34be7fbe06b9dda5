from django.urls import path, re_path

from openai_api import pages, views

urlpatterns = [
    path("v1/models", views.models, name="api_models"),
    path("v1/chat/completions", views.chat_completions, name="api_chat_completions"),
    path("v1/responses", views.responses, name="api_responses"),
    path("v1/conversations", views.conversations, name="api_conversations"),
    path("v1/conversations/<str:conversation_id>", views.conversation, name="api_conversation"),
    path(
        "v1/conversations/<str:conversation_id>/items",
        views.conversation_items,
        name="api_conversation_items",
    ),
    re_path(r"^v1/", views.unknown, name="api_unknown"),  # in OpenAI's error shape, not the site's page
    path("api-keys/", pages.api_keys, name="api_keys"),
    path("api-keys/<int:key_id>/revoke/", pages.revoke, name="api_key_revoke"),
]
