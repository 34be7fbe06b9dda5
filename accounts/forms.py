"""The forms of the account pages: a new account (by staff, or by sign-up), a display name."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import SetUnusablePasswordMixin, UserCreationForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from conversations.json_input import text_problem
from conversations.models import SiteSettings


def _storable(value: str) -> str:
    """NUL and lone surrogates cannot be stored (PostgreSQL refuses them)."""
    problem = text_problem(value)
    if problem:
        raise ValidationError(f"This {problem}.")
    return value


class SignUpForm(UserCreationForm):
    """Someone making their own account: a username, a display name, a password."""

    class Meta(UserCreationForm.Meta):
        fields = ("username", "first_name")
        labels = {"first_name": "Display name"}
        help_texts = {"first_name": "Shown instead of your username. Optional."}

    def clean_first_name(self) -> str:
        return _storable(self.cleaned_data["first_name"])


class NewAccountForm(SetUnusablePasswordMixin, SignUpForm):
    """An account staff add: with a password they set, or with a one-time sign-in link."""

    usable_password = forms.ChoiceField(
        label="How they sign in first",
        choices={"false": "With a one-time sign-in link I send them", "true": "With a password I set now"},
        initial="false",
        widget=forms.RadioSelect,
    )

    class Meta(SignUpForm.Meta):
        fields = ("username", "first_name", "is_staff")
        labels = {"first_name": "Display name", "is_staff": "Staff"}
        help_texts = {
            "first_name": "Shown instead of the username. Optional.",
            "is_staff": "Staff manage accounts and models, and may use the admin.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password1"].required = False
        self.fields["password2"].required = False
        self.fields["username"].widget.attrs.pop("autofocus", None)


class DisplayNameForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("first_name",)
        labels = {"first_name": "Display name"}
        help_texts = {"first_name": "Shown instead of your username. Leave it empty to show your username."}

    def clean_first_name(self) -> str:
        return _storable(self.cleaned_data["first_name"])


class SiteSettingsForm(forms.ModelForm):
    class Meta:
        model = SiteSettings
        fields = ("sign_up_open",)
        labels = {"sign_up_open": "People may sign up by themselves"}
