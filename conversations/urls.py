from django.urls import path

from conversations import conversation_views as manage
from conversations import model_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("setup/", views.setup, name="setup"),
    path("c/new/", views.new_conversation, name="new_conversation"),
    path("c/", manage.search, name="search"),
    path("c/import/", manage.import_conversation, name="import_conversation"),
    path("c/<uuid:conversation_id>/rename/", manage.rename, name="rename"),
    path("c/<uuid:conversation_id>/pin/", manage.pin, name="pin"),
    path("c/<uuid:conversation_id>/delete/", manage.delete, name="delete"),
    path("c/<uuid:conversation_id>/settings/", manage.conversation_settings, name="conversation_settings"),
    path("c/<uuid:conversation_id>/messages/", manage.messages, name="messages"),
    path("c/<uuid:conversation_id>/context/", manage.context, name="context"),
    path("c/<uuid:conversation_id>/export.<str:kind>", manage.export, name="export"),
    path("settings/defaults/", manage.default_settings, name="default_settings"),
    path("c/<uuid:conversation_id>/", views.conversation, name="conversation"),
    path("api/models/", views.models, name="models"),
    path("models/", model_views.models_page, name="models_page"),
    path("models/status/", model_views.status, name="models_status"),
    path("models/installed/", model_views.installed, name="models_installed"),
    path("models/running/", model_views.running, name="models_running"),
    path("models/details/", model_views.details, name="models_details"),
    path("models/load/", model_views.load, name="models_load"),
    path("models/unload/", model_views.unload, name="models_unload"),
    path("models/delete/", model_views.delete, name="models_delete"),
    path("models/copy/", model_views.copy, name="models_copy"),
    path("schemas/", views.schemas, name="schemas"),
    path("schemas/<int:schema_id>/delete/", views.delete_schema, name="delete_schema"),
    path("images/", views.upload_image, name="upload_image"),
    path("images/<uuid:image_id>/", views.image, name="image"),
    path("images/<uuid:image_id>/thumbnail/", views.image_thumbnail, name="image_thumbnail"),
    path("images/<uuid:image_id>/remove/", views.remove_image, name="remove_image"),
]
