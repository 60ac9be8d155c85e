"""State changes of the accounts app."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone

# Authentication Context Class References published in discovery (``acr_values_supported``).
ACR_PASSWORD = "urn:ciam:acr:password"
ACR_MFA = "urn:ciam:acr:mfa"
ACR_PHISHING_RESISTANT = "urn:ciam:acr:phishing-resistant"
ACR_LEVELS = {ACR_PASSWORD: 1, ACR_MFA: 2, ACR_PHISHING_RESISTANT: 3}

SESSION_AUTH_TIME = "idp_auth_time"
SESSION_AMR = "idp_amr"
# Set by the authorization endpoint when it sends a signed-in user to log in again
# (prompt=login, max_age, another account's id_token_hint); turned into "fresh" by the login.
SESSION_REAUTH_PENDING = "idp_reauth_pending"
SESSION_REAUTH_FRESH = "idp_reauth_fresh"


def authentication_record(*, request: HttpRequest, methods: list[str]) -> None:
    """Remember in the session when and how the user authenticated (for auth_time, acr, amr)."""
    request.session[SESSION_AUTH_TIME] = int(timezone.now().timestamp())
    request.session[SESSION_AMR] = sorted(set(methods))
    if request.session.pop(SESSION_REAUTH_PENDING, False):
        request.session[SESSION_REAUTH_FRESH] = True


def authentication_context(request: HttpRequest) -> dict:
    """auth_time (epoch seconds), amr and acr of the current session."""
    auth_time = request.session.get(SESSION_AUTH_TIME)
    if auth_time is None:
        # A session that predates recording (or a test login): treat as password now.
        auth_time = int(timezone.now().timestamp())
        request.session[SESSION_AUTH_TIME] = auth_time
    amr = request.session.get(SESSION_AMR) or ["pwd"]
    return {"auth_time": auth_time, "amr": amr, "acr": acr_for(amr)}


def acr_for(amr: list[str]) -> str:
    methods = set(amr)
    if "hwk" in methods or "swk" in methods:
        return ACR_PHISHING_RESISTANT
    if "mfa" in methods or len(methods & {"pwd", "otp", "sms", "hwk", "swk", "fed"}) >= 2:
        return ACR_MFA
    return ACR_PASSWORD
