"""Reads about second factors and passkeys, handed to the login stage, views and the admin."""

from __future__ import annotations

import time
from dataclasses import dataclass

from allauth.account.authentication import get_authentication_records
from allauth.account.models import EmailAddress
from django.core.cache import cache
from django.http import HttpRequest
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import selectors as account_selectors
from accounts.app_settings import app_settings
from accounts.models import WebAuthnCredential
from accounts.services import ACR_LEVELS, ACR_MFA, ACR_PHISHING_RESISTANT, authentication_context

# The second-factor methods, named as in allauth's authentication records ("type" of method "mfa").
TOTP = "totp"
RECOVERY_CODES = "recovery_codes"
EMAIL = "email"
WEBAUTHN = "webauthn"
CODE_METHODS = (TOTP, RECOVERY_CODES, EMAIL)

# A login stage may ask for a second factor whatever the policy (e.g. risk-based step-up):
# set ``login.state[REQUIRE_SECOND_FACTOR] = True`` in a stage that runs before ours.
REQUIRE_SECOND_FACTOR = "require_second_factor"


@dataclass(frozen=True)
class Factors:
    """What a member has enrolled."""

    totp: TOTPDevice | None
    email: EmailDevice | None
    passkeys: tuple[WebAuthnCredential, ...]
    recovery_codes_left: int

    @property
    def usable_passkeys(self) -> tuple[WebAuthnCredential, ...]:
        """Passkeys not flagged as possibly cloned."""
        return tuple(p for p in self.passkeys if p.flagged_at is None)

    @property
    def has_strong_factor(self) -> bool:
        """An authenticator app or a passkey: what turns the second step on by itself."""
        return self.totp is not None or bool(self.usable_passkeys)


def factors_for(user) -> Factors:
    return Factors(
        totp=TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first(),
        email=EmailDevice.objects.filter(user=user, confirmed=True).order_by("pk").first(),
        passkeys=tuple(WebAuthnCredential.objects.filter(user=user).order_by("created", "pk")),
        recovery_codes_left=user.recovery_codes.filter(used_at__isnull=True).count(),
    )


def has_strong_factor(user) -> bool:
    """``factors_for(user).has_strong_factor`` in one query: the question every sign-in asks."""
    from django.contrib.auth import get_user_model
    from django.db.models import Exists, OuterRef

    totp = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    passkey = WebAuthnCredential.objects.filter(user=OuterRef("pk"), flagged_at__isnull=True)
    return get_user_model().objects.filter(pk=user.pk).filter(Exists(totp) | Exists(passkey)).exists()


def email_verified(user) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def email_codes_allowed(user, *, factors: Factors | None = None, required_acr: str | None = None) -> bool:
    """Email codes are a fallback: usable next to another factor, or where MFA is required."""
    factors = factors or factors_for(user)
    required = ACR_LEVELS.get(required_acr or "", 0) >= ACR_LEVELS[ACR_MFA]
    return factors.has_strong_factor or required or account_selectors.mfa_required_for_user(user)


def second_factor_methods(user, *, required_acr: str | None = None, factors: Factors | None = None) -> list[str]:
    """The methods this member can use now to reach ``required_acr`` (any second factor if None).

    Phishing-resistant authentication can only come from a passkey.
    """
    factors = factors or factors_for(user)
    if required_acr == ACR_PHISHING_RESISTANT:
        return [WEBAUTHN] if factors.usable_passkeys else []
    methods = []
    if factors.usable_passkeys:
        methods.append(WEBAUTHN)
    if factors.totp is not None:
        methods.append(TOTP)
    if factors.recovery_codes_left and factors.has_strong_factor:
        methods.append(RECOVERY_CODES)
    if factors.email is not None and email_codes_allowed(user, factors=factors, required_acr=required_acr):
        methods.append(EMAIL)
    return methods


def login_required_acr(login) -> str | None:
    """What the relying party, the client and the member's policy ask of this login."""
    user = login.user
    params = account_selectors.authorization_request_from(login.redirect_url)
    client = None
    if params.get("client_id"):
        from idp.oauth.clients import client_get

        client = client_get(params["client_id"])
    required = account_selectors.required_acr(user=user, client=client, acr_values=params.get("acr_values", ""))
    if login.state.get(REQUIRE_SECOND_FACTOR) and ACR_LEVELS.get(required or "", 0) < ACR_LEVELS[ACR_MFA]:
        required = ACR_MFA
    return required


def needs_second_factor(required_acr: str | None) -> bool:
    return ACR_LEVELS.get(required_acr or "", 0) >= ACR_LEVELS[ACR_MFA]


def session_acr(request: HttpRequest) -> str:
    return authentication_context(request)["acr"]


def used_passkey_since(request: HttpRequest, user, since: float) -> bool:
    """Did this login (started at ``since``) sign in with a passkey, without a password?"""
    return any(
        r.get("method") == "passkey" and r.get("at", 0) >= since for r in get_authentication_records(request, user)
    )


def recently_authenticated(request: HttpRequest) -> bool:
    """Did the member prove who they are (any method) within RECENT_AUTH_SECONDS?"""
    records = get_authentication_records(request, request.user)
    if not records:
        return False
    latest = max(r.get("at", 0) for r in records)
    return time.time() - latest < app_settings.RECENT_AUTH_SECONDS


def failure_cache_key(user) -> str:
    return f"accounts:mfa:failures:{user.pk}"


def second_factor_locked(user) -> bool:
    """Too many wrong codes lately: codes are refused until the window passes (passkeys still work)."""
    from accounts.mfa.app_settings import mfa_settings

    return (cache.get(failure_cache_key(user)) or 0) >= mfa_settings.MFA_MAX_FAILURES


def passkey_for_credential_id(credential_id: bytes) -> WebAuthnCredential | None:
    return WebAuthnCredential.objects.select_related("user").filter(credential_id=credential_id).first()


@dataclass(frozen=True)
class FactorSummary:
    """Counts for the account page's card, in one query."""

    totp: bool
    email: bool
    passkeys: int
    recovery_codes_left: int


def factor_summary(user) -> FactorSummary:
    from django.contrib.auth import get_user_model
    from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from accounts.models import RecoveryCode

    def count_of(queryset):
        counted = queryset.order_by().values("user").annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

    row = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .annotate(
            has_totp=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            has_email=Exists(EmailDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            passkey_count=count_of(WebAuthnCredential.objects.filter(user=OuterRef("pk"))),
            codes_left=count_of(RecoveryCode.objects.filter(user=OuterRef("pk"), used_at__isnull=True)),
        )
        .values("has_totp", "has_email", "passkey_count", "codes_left")
        .first()
    ) or {"has_totp": False, "has_email": False, "passkey_count": 0, "codes_left": 0}
    return FactorSummary(
        totp=row["has_totp"],
        email=row["has_email"],
        passkeys=row["passkey_count"],
        recovery_codes_left=row["codes_left"],
    )
