"""The API keys page: each user makes, names, lists and revokes their own keys."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from conversations import json_input
from conversations.models import ApiKey
from openai_api import keys


class KeyForm(forms.Form):
    name = forms.CharField(max_length=keys.MAX_NAME_CHARS, strip=True)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        problem = json_input.text_problem(name)
        if problem:
            raise forms.ValidationError(f"The name {problem}.")
        return name


@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    """The list; a POST makes a key and shows it, this once."""
    form = KeyForm(request.POST or None)
    new_key = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            _record, new_key = keys.create_key(owner_id=request.user.pk, name=form.cleaned_data["name"])
            form = KeyForm()
        else:
            status = 400
    listed = ApiKey.objects.filter(owner_id=request.user.pk).order_by("revoked_at", "-created_at")
    base_url = request.build_absolute_uri("/v1/")
    response = render(
        request,
        "openai_api/api_keys.html",
        {"form": form, "keys": listed, "new_key": new_key, "base_url": base_url},
        status=status,
    )
    if new_key:
        response["Cache-Control"] = "no-store"  # the key is shown once: no copy in a cache
    return response


@require_POST
def revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    if not keys.revoke_key(owner_id=request.user.pk, key_id=key_id):
        return HttpResponseNotFound("No such key.")
    return redirect("api_keys")
