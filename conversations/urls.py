from django.urls import path

from conversations.views import catalog, conversations, images, pages, schemas, settings, tools, transfer

urlpatterns = [
    path("", pages.home, name="home"),
    path("setup/", pages.setup, name="setup"),
    path("c/new/", conversations.new_conversation, name="new_conversation"),
    path("c/", conversations.search, name="search"),
    path("c/import/", transfer.import_conversation, name="import_conversation"),
    path("c/<uuid:conversation_id>/rename/", conversations.rename, name="rename"),
    path("c/<uuid:conversation_id>/pin/", conversations.pin, name="pin"),
    path("c/<uuid:conversation_id>/delete/", conversations.delete, name="delete"),
    path("c/<uuid:conversation_id>/settings/", settings.conversation_settings, name="conversation_settings"),
    path("c/<uuid:conversation_id>/tools/", tools.conversation_tools, name="conversation_tools"),
    path("c/<uuid:conversation_id>/messages/", conversations.messages, name="messages"),
    path(
        "c/<uuid:conversation_id>/messages/<uuid:message_id>/delete/",
        conversations.delete_exchange,
        name="delete_exchange",
    ),
    path("c/<uuid:conversation_id>/context/", conversations.context, name="context"),
    path("c/<uuid:conversation_id>/export.<str:kind>", transfer.export, name="export"),
    path("settings/defaults/", settings.default_settings, name="default_settings"),
    path("c/<uuid:conversation_id>/", pages.conversation, name="conversation"),
    path("api/models/", catalog.models, name="models"),
    path("api/tools/", tools.tools, name="tools"),
    path("schemas/", schemas.schemas, name="schemas"),
    path("schemas/<int:schema_id>/delete/", schemas.delete_schema, name="delete_schema"),
    path("images/", images.upload_image, name="upload_image"),
    path("images/<uuid:image_id>/", images.image, name="image"),
    path("images/<uuid:image_id>/thumbnail/", images.image_thumbnail, name="image_thumbnail"),
    path("images/<uuid:image_id>/remove/", images.remove_image, name="remove_image"),
]
