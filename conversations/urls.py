from django.urls import path

from conversations import views

urlpatterns = [
    path("", views.home, name="home"),
    path("setup/", views.setup, name="setup"),
    path("c/new/", views.new_conversation, name="new_conversation"),
    path("c/<uuid:conversation_id>/", views.conversation, name="conversation"),
    path("api/models/", views.models, name="models"),
    path("schemas/", views.schemas, name="schemas"),
    path("schemas/<int:schema_id>/delete/", views.delete_schema, name="delete_schema"),
    path("images/", views.upload_image, name="upload_image"),
    path("images/<uuid:image_id>/", views.image, name="image"),
    path("images/<uuid:image_id>/thumbnail/", views.image_thumbnail, name="image_thumbnail"),
]
