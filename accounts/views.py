"""The account pages: staff's Accounts page, the one-time sign-in link's page, sign-up, and each
user's own Account page. Every change is a POST with the CSRF token."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model, login, update_session_auth_hash
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import LoginView, PasswordResetConfirmView
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import changes
from accounts.forms import DisplayNameForm, NewAccountForm, SignUpForm, SiteSettingsForm
from conversations import sign_in
from conversations.models import SiteSettings
from conversations.sign_in import SignInForm

# Sessions come from the password form or a link, never from another backend.
BACKEND = "django.contrib.auth.backends.ModelBackend"
View = Callable[..., HttpResponse]


def staff_only(view: View) -> View:
    """Staff's pages do not exist for anyone else."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


# The Accounts page (staff) ------------------------------------------------------


def _accounts_page(
    request: HttpRequest,
    *,
    form: NewAccountForm | None = None,
    problem: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "people": get_user_model().objects.order_by("username"),
        "form": form or NewAccountForm(),
        "settings_form": SiteSettingsForm(instance=SiteSettings.current()),
        "problem": problem,
    }
    return render(request, "accounts/users.html", context, status=status)


@require_GET
@staff_only
def accounts(request: HttpRequest) -> HttpResponse:
    return _accounts_page(request)


@require_POST
@staff_only
def add_account(request: HttpRequest) -> HttpResponse:
    form = NewAccountForm(request.POST)
    if not form.is_valid():
        return _accounts_page(request, form=form, status=400)
    user = form.save()
    if user.has_usable_password():
        messages.success(request, f"{user.get_username()} can sign in now with the password you set.")
        return redirect("accounts")
    return _link_page(request, user, new=True)


def _link_page(request: HttpRequest, user: Any, *, new: bool) -> HttpResponse:
    """The link is shown once, on this answer, and kept nowhere else."""
    context = {"person": user, "link": changes.sign_in_link(request, user), "new": new}
    response = render(request, "accounts/link.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _change(request: HttpRequest, user_id: int, change: Callable[[Any], str]) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=user_id)
    try:
        done = change(user)
    except changes.NotAllowed as exc:
        return _accounts_page(request, problem=exc.message, status=403)
    messages.success(request, done)
    return redirect("accounts")


class _BadValue(Exception):
    pass


def _yes_or_no(request: HttpRequest, name: str) -> bool:
    value = request.POST.get(name)
    if value not in ("true", "false"):
        raise _BadValue(name)
    return value == "true"


@require_POST
@staff_only
def set_active(request: HttpRequest, user_id: int) -> HttpResponse:
    try:
        active = _yes_or_no(request, "active")
    except _BadValue:
        return _accounts_page(request, problem="Say whether the account is to be active.", status=400)

    def change(user: Any) -> str:
        changes.set_active(actor=request.user, user=user, active=active)
        return f"{user.get_username()} is {'active again' if active else 'deactivated and signed out'}."

    return _change(request, user_id, change)


@require_POST
@staff_only
def set_staff(request: HttpRequest, user_id: int) -> HttpResponse:
    try:
        staff = _yes_or_no(request, "staff")
    except _BadValue:
        return _accounts_page(request, problem="Say whether the account is to be staff.", status=400)

    def change(user: Any) -> str:
        changes.set_staff(actor=request.user, user=user, staff=staff)
        return f"{user.get_username()} is {'staff now' if staff else 'no longer staff'}."

    return _change(request, user_id, change)


@require_POST
@staff_only
def reset_password(request: HttpRequest, user_id: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=user_id)
    try:
        changes.reset_password(actor=request.user, user=user)
    except changes.NotAllowed as exc:
        return _accounts_page(request, problem=exc.message, status=403)
    return _link_page(request, user, new=False)


@require_POST
@staff_only
def site_settings(request: HttpRequest) -> HttpResponse:
    form = SiteSettingsForm(request.POST, instance=SiteSettings.current())
    if not form.is_valid():
        return _accounts_page(request, problem="Those settings could not be saved.", status=400)
    saved = form.save()
    messages.success(
        request, "People may sign up by themselves." if saved.sign_up_open else "Only staff add accounts."
    )
    return redirect("accounts")


# Signing in: with a one-time link, by signing up ------------------------------------


class SignIn(LoginView):
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "sign_up_open": SiteSettings.current().sign_up_open}


class Welcome(PasswordResetConfirmView):
    """A one-time sign-in link: the person sets a password, and is signed in; the link then stops working."""

    template_name = "accounts/welcome.html"
    post_reset_login = True
    post_reset_login_backend = BACKEND
    success_url = reverse_lazy("home")

    def get_user(self, uidb64: str) -> Any:
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None


@login_not_required
@require_http_methods(["GET", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    """Open only when staff allow it; each sign-up sent counts like a failed sign-in from its address."""
    if not SiteSettings.current().sign_up_open:
        raise Http404
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if sign_in.sign_up_paused(request):
            return render(
                request, "accounts/sign_up.html", {"form": SignUpForm(), "paused": True}, status=429
            )
        sign_in.count_sign_up(request)
        if form.is_valid():
            user = form.save()
            login(request, user, backend=BACKEND)
            return redirect("home")
    return render(request, "accounts/sign_up.html", {"form": form}, status=400 if form.errors else 200)


# Each user's own account ------------------------------------------------------------


def _account_page(
    request: HttpRequest,
    *,
    name_form: DisplayNameForm | None = None,
    password_form: PasswordChangeForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "name_form": name_form or DisplayNameForm(instance=request.user),
        "password_form": password_form or PasswordChangeForm(request.user),
    }
    return render(request, "accounts/account.html", context, status=status)


@require_GET
def account(request: HttpRequest) -> HttpResponse:
    return _account_page(request)


@require_POST
def change_name(request: HttpRequest) -> HttpResponse:
    form = DisplayNameForm(request.POST, instance=request.user)
    if not form.is_valid():
        return _account_page(request, name_form=form, status=400)
    form.save()
    messages.success(request, "Your display name is saved.")
    return redirect("account")


@require_POST
def change_password(request: HttpRequest) -> HttpResponse:
    """Your other sessions end; this one goes on."""
    form = PasswordChangeForm(request.user, request.POST)
    if not form.is_valid():
        return _account_page(request, password_form=form, status=400)
    user = form.save()
    update_session_auth_hash(request, user)
    messages.success(request, "Your password is changed. Your other sessions are signed out.")
    return redirect("account")
