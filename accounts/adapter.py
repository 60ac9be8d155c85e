from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Hosted-login adapter: keeps allauth on email-only accounts."""

    def is_open_for_signup(self, request) -> bool:
        return True
