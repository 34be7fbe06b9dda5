"""The admin: browse conversations, their messages, images and structured results."""

from django.contrib import admin

from conversations.admin import chat, images, preferences, tools  # noqa: F401 (each registers its models)
from conversations.sign_in import AdminSignInForm

# The admin's sign-in refuses what the sign-in page refuses (conversations/sign_in.py).
admin.site.login_form = AdminSignInForm
