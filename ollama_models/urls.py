from django.urls import path

from ollama_models import views

urlpatterns = [
    path("models/", views.models_page, name="models_page"),
    path("models/status/", views.status, name="models_status"),
    path("models/running/", views.running, name="models_running"),
    path("models/details/", views.details, name="models_details"),
    path("models/load/", views.load, name="models_load"),
    path("models/unload/", views.unload, name="models_unload"),
    path("models/delete/", views.delete, name="models_delete"),
    path("models/copy/", views.copy, name="models_copy"),
]
