"""State changes of social login: linking, unlinking, refusals, and proving an existing account.

Linking rules (issue 3):

- A social login whose *verified* email belongs to an existing account neither signs in nor
  links by itself. The login waits in the session (``social_link_begin``) until the person
  proves the existing account is theirs: its password, or a code emailed to the address
  (offered only when the address is verified here too). Then the upstream account is linked
  and the person signed in as that account (``social_link_complete``).
- An *unverified* upstream email never reaches an existing account: the login is refused
  (``social_login_refuse``) and the person may sign up with another address instead.
- Linked accounts can be unlinked, never the last way in (``selectors.can_unlink``).

Every link, unlink and refusal writes a ``SecurityEvent``.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.utils import perform_login
from allauth.socialaccount import app_settings as socialaccount_settings
from allauth.socialaccount import signals
from allauth.socialaccount.internal.flows.login import record_authentication
from allauth.socialaccount.internal.flows.signup import redirect_to_signup
from allauth.socialaccount.models import SocialAccount, SocialLogin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _

from accounts.models import SecurityEvent
from accounts.social import selectors

if TYPE_CHECKING:
    from accounts.models import User

LINK_CODE_SECONDS = 600
LINK_CODES_MAX = 3  # codes sent per pending link
LINK_FAILURES_MAX = 5  # wrong passwords and codes per pending link


class SocialAccountError(Exception):
    """A social login rule refused the request: a stable code, a translated message, an HTTP status."""

    def __init__(self, code: str, message, status: int = 400) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status


def security_event_record(
    *, request: HttpRequest | None, user: User | None, kind: str, data: dict | None = None
) -> SecurityEvent:
    meta = request.META if request is not None else {}
    return SecurityEvent.objects.create(
        user=user,
        kind=kind,
        ip=meta.get("REMOTE_ADDR") or None,
        user_agent=(meta.get("HTTP_USER_AGENT") or "")[:300],
        data=data or {},
    )


def _provider_data(sociallogin: SocialLogin) -> dict:
    return {"provider": sociallogin.account.provider, "uid": sociallogin.account.uid}


# --- Linking ---------------------------------------------------------------------------------------
@transaction.atomic
def social_account_link(*, request: HttpRequest, user: User, sociallogin: SocialLogin, proof: str) -> SocialAccount:
    """Link the upstream account of ``sociallogin`` to ``user``, who has proven it is theirs.

    ``proof`` says how: ``session`` (connected while signed in), ``password`` or ``email_code``.
    """
    account = sociallogin.account
    if SocialAccount.objects.filter(provider=account.provider, uid=account.uid).exists():
        raise SocialAccountError(
            "connected_other", _("This account at the other service is already linked to a member account.")
        )
    account.pk = None
    account.user = user
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as e:  # linked concurrently
        raise SocialAccountError(
            "connected_other", _("This account at the other service is already linked to a member account.")
        ) from e
    sociallogin.user = user
    security_event_record(
        request=request,
        user=user,
        kind=SecurityEvent.Kind.SOCIAL_LINKED,
        data={**_provider_data(sociallogin), "proof": proof},
    )
    signals.social_account_added.send(sender=SocialLogin, request=request, sociallogin=sociallogin)
    return account


def social_signup_record(*, request: HttpRequest, user: User, sociallogin: SocialLogin) -> None:
    """A new account was created through an upstream (called inside the sign-up's transaction)."""
    verified = any(a.verified for a in sociallogin.email_addresses if a.email and a.email.lower() == user.email.lower())
    security_event_record(
        request=request,
        user=user,
        kind=SecurityEvent.Kind.SOCIAL_LINKED,
        data={**_provider_data(sociallogin), "proof": "signup", "email_verified": verified},
    )


def social_account_unlink(*, request: HttpRequest, user: User, account_id: int) -> None:
    """Unlink one of ``user``'s upstream accounts; refused (and recorded) for the last way in."""
    error = _social_account_unlink(request=request, user=user, account_id=account_id)
    if error is not None:
        raise error


@transaction.atomic
def _social_account_unlink(*, request: HttpRequest, user: User, account_id: int) -> SocialAccountError | None:
    # Lock the member so that two concurrent unlinks cannot both see "another way in".
    user = get_user_model().objects.select_for_update().get(pk=user.pk)
    account = SocialAccount.objects.filter(user=user, pk=account_id).first()
    if account is None:
        return SocialAccountError("not_found", _("This linked account no longer exists."), status=404)
    data = {"provider": account.provider, "uid": account.uid}
    if not selectors.can_unlink(user=user, account=account):
        security_event_record(
            request=request,
            user=user,
            kind=SecurityEvent.Kind.SOCIAL_REJECTED,
            data={**data, "reason": "last_way_in"},
        )
        return SocialAccountError(
            "last_way_in",
            _("This is the only way to sign in to your account. Set a password or add a passkey before you unlink it."),
        )
    account.delete()
    security_event_record(request=request, user=user, kind=SecurityEvent.Kind.SOCIAL_UNLINKED, data=data)
    signals.social_account_removed.send(sender=SocialAccount, request=request, socialaccount=account)
    return None


# --- Refusals --------------------------------------------------------------------------------------
@transaction.atomic
def social_login_refuse(
    *, request: HttpRequest, user: User | None, sociallogin: SocialLogin | None = None, reason: str, **data
) -> SecurityEvent:
    """Record a social sign-in we refused (``reason`` is a short stable code)."""
    payload = _provider_data(sociallogin) if sociallogin is not None else {}
    payload.update(data)
    payload["reason"] = reason
    return security_event_record(request=request, user=user, kind=SecurityEvent.Kind.SOCIAL_REJECTED, data=payload)


def social_login_failure_record(
    *, request: HttpRequest, provider_id: str, error: str, exception: BaseException | None
) -> SecurityEvent:
    """An upstream error, a cancelled consent, a bad state or a callback that failed our checks."""
    data = {"provider": provider_id, "error": error}
    upstream_error = request.GET.get("error") or request.POST.get("error")
    if upstream_error:
        data["upstream_error"] = upstream_error[:64]
    if exception is not None:
        data["detail"] = f"{exception.__class__.__name__}: {exception}"[:200]
    user = request.user if getattr(request, "user", None) is not None and request.user.is_authenticated else None
    return social_login_refuse(request=request, user=user, reason="upstream_error", **data)


def social_signup_offer(*, request: HttpRequest, sociallogin: SocialLogin) -> None:
    """Let the person sign up with another address: allauth's pending social sign-up, email emptied."""
    sociallogin.email_addresses = []
    if sociallogin.user is not None:
        sociallogin.user.email = ""
    redirect_to_signup(request, sociallogin)  # stores the pending sign-up; the page links to it


# --- Proving an existing account -----------------------------------------------------------------
def social_link_begin(*, request: HttpRequest, sociallogin: SocialLogin, match: selectors.EmailMatch) -> None:
    """Park ``sociallogin`` until its owner proves ``match.user`` is theirs."""
    request.session[selectors.PENDING_LINK_SESSION_KEY] = {
        "sociallogin": sociallogin.serialize(),
        "user_id": match.user.pk,
        "email": match.email,
        "code_allowed": match.verified_here,
        "provider": sociallogin.account.provider,
        "provider_name": sociallogin.provider.name if sociallogin.provider else sociallogin.account.provider,
        "started": timezone.now().timestamp(),
        "code": None,
        "codes_sent": 0,
        "failures": 0,
    }


def social_link_discard(*, request: HttpRequest) -> None:
    request.session.pop(selectors.PENDING_LINK_SESSION_KEY, None)


def _pending_or_error(request: HttpRequest) -> tuple[dict, User]:
    pending = selectors.pending_link(request)
    user = selectors.pending_link_user(pending) if pending else None
    if pending is None or user is None:
        social_link_discard(request=request)
        raise SocialAccountError("expired", _("This sign-in has expired. Please start again."), status=410)
    return pending, user


def _save_pending(request: HttpRequest, pending: dict) -> None:
    request.session[selectors.PENDING_LINK_SESSION_KEY] = pending


def _link_failure(*, request: HttpRequest, pending: dict, user: User, reason: str) -> None:
    pending["failures"] += 1
    social_login_refuse(request=request, user=user, reason=reason, provider=pending["provider"])
    if pending["failures"] >= LINK_FAILURES_MAX:
        social_link_discard(request=request)
        raise SocialAccountError("too_many_attempts", _("Too many attempts. Please start again."), status=429)
    _save_pending(request, pending)


def social_link_prove_password(*, request: HttpRequest, password: str) -> bool:
    """Check the existing account's password (allauth's login rate limits apply)."""
    pending, user = _pending_or_error(request)
    try:
        authenticated = get_account_adapter(request).authenticate(request, email=user.email, password=password)
    except ValidationError as e:  # allauth's "too many failed login attempts"
        social_login_refuse(request=request, user=user, reason="throttled", provider=pending["provider"])
        raise SocialAccountError("throttled", e.messages[0], status=429) from e
    if authenticated is None or authenticated.pk != user.pk:
        _link_failure(request=request, pending=pending, user=user, reason="wrong_password")
        return False
    return True


def _code_digest(pending: dict, code: str) -> str:
    message = f"{pending['user_id']}:{pending['started']}:{code}"
    return salted_hmac("accounts.social.link_code", message, algorithm="sha256").hexdigest()


def social_link_code_send(*, request: HttpRequest) -> None:
    """Email a one-time code to the existing account's (verified) address."""
    pending, user = _pending_or_error(request)
    if not pending["code_allowed"]:
        raise SocialAccountError("code_unavailable", _("We can't send a code to this address. Use your password."))
    if pending["codes_sent"] >= LINK_CODES_MAX:
        raise SocialAccountError("too_many_codes", _("We have sent you enough codes. Use the latest one."), status=429)
    code = f"{secrets.randbelow(10**6):06d}"
    pending["code"] = {
        "digest": _code_digest(pending, code),
        "expires": timezone.now().timestamp() + LINK_CODE_SECONDS,
    }
    pending["codes_sent"] += 1
    _save_pending(request, pending)
    get_account_adapter(request).send_mail(
        "accounts/social/email/link_code",
        pending["email"],
        {"code": code, "provider_name": pending["provider_name"], "minutes": LINK_CODE_SECONDS // 60},
    )


def social_link_prove_code(*, request: HttpRequest, code: str) -> bool:
    pending, user = _pending_or_error(request)
    sent = pending.get("code")
    if not sent:
        raise SocialAccountError("no_code", _("Ask for a code first."))
    if timezone.now().timestamp() > sent["expires"]:
        pending["code"] = None
        _link_failure(request=request, pending=pending, user=user, reason="code_expired")
        return False
    if not constant_time_compare(_code_digest(pending, code.strip()), sent["digest"]):
        _link_failure(request=request, pending=pending, user=user, reason="wrong_code")
        return False
    return True


def social_link_complete(*, request: HttpRequest, proof: str) -> HttpResponse:
    """The person proved the existing account is theirs: link, then sign in through allauth.

    The session's authentication record is the social login (amr ``fed``); the proof is
    kept in the security event. Login stages (second factor, ...) run as for any login.
    """
    pending, user = _pending_or_error(request)
    sociallogin = SocialLogin.deserialize(pending["sociallogin"])
    social_link_discard(request=request)
    social_account_link(request=request, user=user, sociallogin=sociallogin, proof=proof)
    record_authentication(request, sociallogin)
    return perform_login(
        request,
        user,
        email_verification=socialaccount_settings.EMAIL_VERIFICATION,
        redirect_url=sociallogin.get_redirect_url(request),
        signal_kwargs={"sociallogin": sociallogin},
    )


def social_link_decline(*, request: HttpRequest) -> None:
    """Not their account after all: sign up with another address instead."""
    pending, _user = _pending_or_error(request)
    sociallogin = SocialLogin.deserialize(pending["sociallogin"])
    social_link_discard(request=request)
    social_signup_offer(request=request, sociallogin=sociallogin)
