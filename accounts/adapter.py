from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class AccountAdapter(DefaultAccountAdapter):
    """Hosted-login adapter: keeps allauth on email-only accounts."""

    def is_open_for_signup(self, request) -> bool:
        return True

    def get_login_stages(self) -> list[str]:
        """allauth's stages (login by code, phone, email verification), the second factor, then
        acceptance of changed legal documents (after the member proved who they are)."""
        return [
            *super().get_login_stages(),
            "accounts.mfa.stages.SecondFactorStage",
            "consent.legal.stages.ReconsentStage",
        ]

    def get_reauthentication_methods(self, user) -> list[dict]:
        """Password (allauth's page) first when the account has one; then passkeys and codes.

        A passkey-only account (signed up without a password) re-authenticates with a passkey.
        """
        methods = super().get_reauthentication_methods(user)
        if not user.is_authenticated:
            return methods
        from accounts.mfa import selectors

        available = selectors.second_factor_methods(user)
        if selectors.WEBAUTHN in available:
            methods.append(
                {
                    "id": "passkey",
                    "description": _("Use a passkey"),
                    "url": reverse("accounts:mfa_reauthenticate_passkey"),
                }
            )
        if any(m in available for m in selectors.CODE_METHODS):
            methods.append(
                {
                    "id": "code",
                    "description": _("Use authenticator app or code"),
                    "url": reverse("accounts:mfa_reauthenticate_code"),
                }
            )
        return methods
