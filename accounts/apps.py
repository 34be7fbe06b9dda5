from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People's accounts: the staff's Accounts page, one-time sign-in links, sign-up, each user's
    own Account page. It has no models of its own (the site's settings live in conversations)."""

    name = "accounts"
