from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from conversations.sign_in import SignInForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=SignInForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("conversations.urls")),
    path("", include("ollama_models.urls")),
    path("", include("openai_api.urls")),
]
