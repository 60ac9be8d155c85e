"""Tunables of second factors and passkeys, read from Django settings with documented defaults.

Each is read as ``ACCOUNTS_<NAME>`` (the prefix of :mod:`accounts.app_settings`)::

    from accounts.mfa.app_settings import mfa_settings
    mfa_settings.WEBAUTHN_RP_ID
"""

from __future__ import annotations

from django.conf import settings


class _MFASettings:
    prefix = "ACCOUNTS_"

    def _get(self, name: str, default):
        return getattr(settings, self.prefix + name, default)

    @property
    def WEBAUTHN_RP_ID(self) -> str | None:
        """WebAuthn relying party ID. ``None``: the host name of the request (without port).

        Set it to a registrable parent domain (``example.com``) to share passkeys between
        ``id.example.com`` and other sub-domains; it can never change once passkeys exist.
        """
        return self._get("WEBAUTHN_RP_ID", None)

    @property
    def WEBAUTHN_RP_NAME(self) -> str:
        """The name authenticators show next to a passkey."""
        return self._get("WEBAUTHN_RP_NAME", getattr(settings, "OTP_TOTP_ISSUER", "Member ID"))

    @property
    def WEBAUTHN_ORIGINS(self) -> list[str]:
        """Origins accepted in clientDataJSON. Empty: the request's own origin only."""
        return list(self._get("WEBAUTHN_ORIGINS", []))

    @property
    def WEBAUTHN_TIMEOUT_MS(self) -> int:
        """How long the browser may wait for the authenticator."""
        return self._get("WEBAUTHN_TIMEOUT_MS", 120_000)

    @property
    def WEBAUTHN_CHALLENGE_SECONDS(self) -> int:
        """A WebAuthn challenge kept in the session expires after this many seconds."""
        return self._get("WEBAUTHN_CHALLENGE_SECONDS", 300)

    @property
    def MFA_MAX_FAILURES(self) -> int:
        """Wrong second-factor codes accepted per account within MFA_FAILURE_WINDOW before refusing."""
        return self._get("MFA_MAX_FAILURES", 10)

    @property
    def MFA_FAILURE_WINDOW(self) -> int:
        """Seconds the failure count of an account is kept (the lock lifts by itself)."""
        return self._get("MFA_FAILURE_WINDOW", 15 * 60)

    @property
    def PASSKEY_MAX_PER_USER(self) -> int:
        """How many passkeys an account may register."""
        return self._get("PASSKEY_MAX_PER_USER", 20)


mfa_settings = _MFASettings()
