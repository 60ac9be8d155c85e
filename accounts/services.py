"""State changes of the accounts app, and how the current session authenticated."""

from __future__ import annotations

from allauth.account.authentication import get_authentication_records
from django.http import HttpRequest
from django.utils import timezone

# Authentication Context Class References published in discovery (``acr_values_supported``).
ACR_PASSWORD = "urn:ciam:acr:password"
ACR_MFA = "urn:ciam:acr:mfa"
ACR_PHISHING_RESISTANT = "urn:ciam:acr:phishing-resistant"
ACR_LEVELS = {ACR_PASSWORD: 1, ACR_MFA: 2, ACR_PHISHING_RESISTANT: 3}

# Set by the authorization endpoint when it sends a user to log in (again) for one request
# (prompt=login, max_age, another account's id_token_hint); the next authentication step
# turns it into "fresh", which that request then consumes.
SESSION_REAUTH_PENDING = "idp_reauth_pending"
SESSION_REAUTH_FRESH = "idp_reauth_fresh"

# allauth authentication records → RFC 8176 Authentication Method Reference values.
_AMR = {
    "password": ["pwd"],
    "password_reset": ["pwd"],
    "code": ["otp"],  # login by emailed code
    "socialaccount": ["fed"],
}
_MFA_AMR = {"totp": ["otp"], "recovery_codes": ["otp"], "email": ["otp"], "webauthn": ["hwk"]}
_PRIMARY = {"pwd", "fed", "otp", "hwk", "swk"}


def amr_from_records(records: list[dict]) -> list[str]:
    """RFC 8176 values for what this session has proven; ``mfa`` when two kinds were used."""
    methods: set[str] = set()
    kinds = 0
    for record in records:
        method = record.get("method")
        if method == "mfa":
            values = _MFA_AMR.get(record.get("type", ""), ["otp"])
        elif method == "passkey":
            values = ["hwk", "user"]  # passwordless: possession plus user verification
        else:
            values = _AMR.get(method, [])
        if values and not set(values) <= methods:
            kinds += 1
        methods.update(values)
    if kinds >= 2 or {"hwk", "user"} <= methods:
        methods.add("mfa")
    return sorted(methods)


def acr_for(amr: list[str]) -> str:
    methods = set(amr)
    if "hwk" in methods:
        return ACR_PHISHING_RESISTANT
    if "mfa" in methods or len(methods & _PRIMARY) >= 2:
        return ACR_MFA
    return ACR_PASSWORD


def authentication_context(request: HttpRequest) -> dict:
    """auth_time (epoch seconds), amr and acr of the signed-in session.

    Derived from allauth's authentication records, which every sign-in step writes (password,
    social account, second factor, passkey, re-authentication).
    """
    records = get_authentication_records(request, request.user)
    if records:
        auth_time = int(max(r.get("at", 0) for r in records))
        amr = amr_from_records(records) or ["pwd"]
    else:
        # A session opened outside allauth (e.g. Django's own login()): count it from now.
        auth_time = request.session.setdefault("idp_auth_time", int(timezone.now().timestamp()))
        amr = ["pwd"]
    return {"auth_time": auth_time, "amr": amr, "acr": acr_for(amr)}


def reauthentication_note(*, request: HttpRequest) -> None:
    """An authentication step just completed: satisfy a pending prompt=login/max_age."""
    if request.session.pop(SESSION_REAUTH_PENDING, False):
        request.session[SESSION_REAUTH_FRESH] = True


def weak_password_renewal_start(*, request: HttpRequest, email: str, password: str):
    """Start "set a new password with an emailed code" for a member whose imported password hash is
    too weak to sign in with (``accounts.hashers``), if ``password`` matches it; else None.

    The code step is allauth's password reset by code (its views are routed under
    ``/accounts/password/renew/`` while reset by link stays the default for everyone else). Counts
    against allauth's ``reset_password`` rate limit like a reset request.
    """
    from allauth.account.internal.flows.password_reset_by_code import PasswordResetVerificationProcess
    from allauth.core import ratelimit
    from django.contrib import messages
    from django.contrib.auth import get_user_model
    from django.http import HttpResponseRedirect
    from django.urls import reverse
    from django.utils.translation import gettext as _

    from accounts.hashers import weak_password_matches

    if request is None or not email or not password:
        return None
    user = get_user_model()._default_manager.filter(email__iexact=email, is_active=True).first()
    if user is None or not weak_password_matches(user, password):
        return None
    if not ratelimit.consume(request, action="reset_password", key=user.email.lower()):
        return None
    PasswordResetVerificationProcess.initiate(request=request, user=user, email=user.email)
    messages.info(
        request,
        _(
            "Your password was kept by our previous system in a way we no longer accept. "
            "We have emailed you a code: enter it to choose a new password."
        ),
    )
    return HttpResponseRedirect(reverse("account_confirm_password_reset_code"))
