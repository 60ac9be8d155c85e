"""Reads of account protection handed to views, login stages and the middleware."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import import_module

from allauth.account import app_settings as allauth_account_settings
from allauth.account.models import EmailConfirmation
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.app_settings import app_settings
from accounts.models import KnownDevice, SecurityEvent, User, UserSession
from accounts.security.app_settings import security_settings
from accounts.security.useragent import describe_device

# Kinds after which an email link issued earlier is dead.
LINK_KILLING_KINDS = (
    SecurityEvent.Kind.PASSWORD_CHANGED,
    SecurityEvent.Kind.PASSWORD_RESET,
    SecurityEvent.Kind.EMAIL_CHANGED,
)


# Session data naming the UserSession row of a session, and the session key that row has.
# Django changes the key of a signed-in session (password change, re-login): the row follows.
SESSION_ROW = "idp_security_session"
SESSION_ROW_KEY = "idp_security_session_key"


def current_session_id(request: HttpRequest) -> int | None:
    """The pk of the :class:`UserSession` of this browser, if it is signed in."""
    if not request.user.is_authenticated:
        return None
    return request.session.get(SESSION_ROW)


def suspect_key(source: str) -> str:
    return f"idp:security:suspect:{source}"


def device_hash(token: str) -> str:
    """Only the hash of a device cookie is stored: a database leak does not give away cookies."""
    return hashlib.sha256(token.encode()).hexdigest()


# --- events --------------------------------------------------------------------------------------


def events_for(*, user) -> QuerySet[SecurityEvent]:
    """The member's own security events, newest first."""
    return SecurityEvent.objects.filter(user=user).order_by("-created", "-id")


def _method_label(method: str, provider: str = "") -> str:
    labels = {
        "password": _("with your password"),
        "password_reset": _("with a password reset link"),
        "code": _("with an emailed code"),
        "passkey": _("with a passkey"),
        "mfa": _("with a second factor"),
    }
    if method == "socialaccount":
        return _("with %(provider)s") % {"provider": provider.title()} if provider else _("with another service")
    return labels.get(method, "")


def event_detail(event: SecurityEvent) -> str:
    """A short line of detail for the member's list of events ("with a passkey", "a@x → b@x")."""
    data = event.data or {}
    kind = event.kind
    if kind == SecurityEvent.Kind.LOGIN:
        return _method_label(data.get("method", ""), data.get("provider", ""))
    if kind == SecurityEvent.Kind.EMAIL_CHANGED and data.get("from") and data.get("to"):
        return f"{data['from']} → {data['to']}"
    if kind == SecurityEvent.Kind.SESSION_REVOKED and data.get("session_device"):
        return data["session_device"]
    if kind == SecurityEvent.Kind.SIGNED_OUT_EVERYWHERE:
        return ngettext("%(count)d session ended", "%(count)d sessions ended", data.get("sessions", 0)) % {
            "count": data.get("sessions", 0)
        }
    return ""


# --- sessions and devices ------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionView:
    id: int
    device: str
    location: str
    ip: str | None
    created: datetime
    last_seen: datetime
    is_current: bool


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def active_sessions(*, user) -> QuerySet[UserSession]:
    """Sessions not ended and not older than the session cookie (Django's sessions expire)."""
    cutoff = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    return UserSession.objects.filter(user=user, ended_at__isnull=True, last_seen__gte=cutoff)


def sessions_for(*, user, current_session_id: int | None) -> list[SessionView]:
    """Active sessions for the sessions page, this browser's first, then by last activity.

    A row whose Django session is gone (expired, flushed by a password change elsewhere) is
    left out: it can no longer be used.
    """
    store = _session_store()
    rows = [
        row
        for row in active_sessions(user=user).order_by("-last_seen")
        if row.pk == current_session_id or store().exists(row.session_key)
    ]
    views = [
        SessionView(
            id=row.id,
            device=describe_device(row.user_agent),
            location=row.location,
            ip=row.ip,
            created=row.created,
            last_seen=row.last_seen,
            is_current=row.pk == current_session_id,
        )
        for row in rows
    ]
    return sorted(views, key=lambda v: not v.is_current)


def is_known_device(request: HttpRequest, user) -> bool:
    """Whether this browser has completed a sign-in to ``user``'s account before.

    Recognised by the long-lived device cookie (``ACCOUNTS_DEVICE_COOKIE_NAME``) whose hash is
    a :class:`KnownDevice` of the user seen within ``ACCOUNTS_KNOWN_DEVICE_MAX_AGE_DAYS``. Used
    for risk-based step-up and the "new sign-in" email; a browser without the cookie, a
    private window or a cleared browser counts as new.
    """
    token = request.COOKIES.get(app_settings.DEVICE_COOKIE_NAME, "")
    if not token or user is None or getattr(user, "pk", None) is None:
        return False
    cutoff = timezone.now() - timedelta(days=security_settings.KNOWN_DEVICE_MAX_AGE_DAYS)
    return KnownDevice.objects.filter(user=user, device_hash=device_hash(token), last_seen__gte=cutoff).exists()


# --- back-channel logout --------------------------------------------------------------------------


def backchannel_targets_for_sessions(*, user, sids: list[str]) -> list[tuple[int, str]]:
    """(client pk, sid) of the RPs with a back-channel logout URI that got codes in these sessions.

    OIDC Back-Channel Logout 1.0 §2.3: the OP remembers which RPs a session signed in to;
    ours is the ``sid`` kept with every issued code (``idp.models.CodeIssuance``).
    """
    from idp.models import CodeIssuance

    sids = [sid for sid in sids if sid]
    if not sids:
        return []
    return list(
        CodeIssuance.objects.filter(user=user, sid__in=sids)
        .exclude(client__backchannel_logout_uri="")
        .values_list("client_id", "sid")
        .distinct()
        .order_by("client_id", "sid")
    )


def backchannel_clients_for_user(*, user) -> list[int]:
    """Pks of the RPs with a back-channel logout URI that the user signed in to or that hold tokens."""
    from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

    from idp.models import CodeIssuance

    client_ids = (
        set(CodeIssuance.objects.filter(user=user).values_list("client_id", flat=True))
        | set(get_refresh_token_model().objects.filter(user=user).values_list("application_id", flat=True))
        | set(get_access_token_model().objects.filter(user=user).values_list("application_id", flat=True))
    )
    return list(
        get_application_model()
        .objects.filter(pk__in=client_ids - {None})
        .exclude(backchannel_logout_uri="")
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- protection ------------------------------------------------------------------------------------


def user_for_login(login: str) -> User | None:
    """The account a sign-in form names (by email, case-insensitive), if there is one."""
    login = (login or "").strip()
    if not login or len(login) > 254:
        return None
    return User.objects.filter(email__iexact=login).first()


def source_suspicion(source: str | None) -> dict | None:
    """The credential-stuffing mark on a source (IP or IPv6 /64) while it lasts, else None."""
    if not source:
        return None
    mark = cache.get(suspect_key(source))
    if not mark or mark.get("until", 0) <= time.time():
        return None
    return mark


def _email_link_issued(key: str) -> tuple[datetime, int] | None:
    """When an email confirmation link was issued, and for which account; None if not ours."""
    if allauth_account_settings.EMAIL_CONFIRMATION_HMAC:
        try:
            pk = signing.loads(key, salt=allauth_account_settings.SALT)
            issued = signing.b62_decode(key.rsplit(":", 2)[-2])
        except (signing.BadSignature, ValueError, IndexError):
            return None
        from allauth.account.models import EmailAddress

        user_id = EmailAddress.objects.filter(pk=pk).values_list("user_id", flat=True).first()
        if user_id is None:
            return None
        return datetime.fromtimestamp(issued, tz=UTC), user_id
    confirmation = EmailConfirmation.objects.filter(key=key.lower()).select_related("email_address").first()
    if confirmation is None:
        return None
    return confirmation.sent or confirmation.created, confirmation.email_address.user_id


def email_link_is_current(key: str) -> bool:
    """False when the account's password or email changed after the confirmation link was sent.

    allauth's links expire and are single-use, but are stateless (HMAC) and survive a password
    change; the issue asks that they die with it, like password reset links do.
    """
    issued = _email_link_issued(key)
    if issued is None:
        return True  # not a link we can read: allauth refuses it by itself
    when, user_id = issued
    return not SecurityEvent.objects.filter(user_id=user_id, kind__in=LINK_KILLING_KINDS, created__gte=when).exists()
