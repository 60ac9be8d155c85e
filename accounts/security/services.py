"""State changes of account protection: security events, sessions, known devices, sign-out and
throttling. Each leaves a :class:`~accounts.models.SecurityEvent`; work for the queue is
scheduled with ``transaction.on_commit``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from functools import partial
from importlib import import_module

from allauth.account.authentication import get_authentication_records
from allauth.core.internal import ratelimit
from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from accounts.app_settings import app_settings
from accounts.models import KnownDevice, SecurityEvent, UserSession
from accounts.security import backchannel, geo, selectors
from accounts.security.app_settings import security_settings
from accounts.security.useragent import describe_device
from accounts.services import amr_from_records

logger = logging.getLogger(__name__)

# The OIDC session id, set by idp.oauth.views.AuthorizeView when it issues a code.
SESSION_SID = "idp_sid"
RATE_LIMIT_APP = "accounts.security"

Kind = SecurityEvent.Kind


# --- events ----------------------------------------------------------------------------------------


def security_event_record(
    *,
    kind: str,
    user=None,
    request: HttpRequest | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    data: dict | None = None,
) -> SecurityEvent:
    """Append one security event. IP and device come from ``request`` unless given."""
    if request is not None:
        ip = ip if ip is not None else geo.client_ip(request)
        user_agent = user_agent if user_agent is not None else geo.user_agent(request)
    return SecurityEvent.objects.create(
        kind=kind, user=user, ip=ip, user_agent=(user_agent or "")[: geo.USER_AGENT_MAX], data=data or {}
    )


def _login_id(login: str) -> str:
    """A stable pseudonym for a login name that is not an account (kept out of the events)."""
    return hashlib.sha256(login.strip().lower().encode()).hexdigest()[:32]


# --- signing in and out ------------------------------------------------------------------------------


@transaction.atomic
def login_record(*, request: HttpRequest, user, signup: bool = False) -> UserSession:
    """A session was signed in: its row on the sessions page and a "signed in" event with the method.

    The method is the first authentication record's; a sign-up that signs in without one
    (allauth records none for a password sign-up) is ``signup``, anything else ``other``.
    """
    session = request.session
    if session.session_key is None:  # login() flushed a session of another user
        session.save()
    ip = geo.client_ip(request)
    location = geo.approximate_location(request, ip)
    records = get_authentication_records(request, user)
    methods = [r.get("method") for r in records if r.get("method")]
    amr = amr_from_records(records) if records else []
    now = timezone.now()
    fields = {
        "user": user,
        "last_seen": now,
        "ip": ip,
        "user_agent": geo.user_agent(request),
        "location": location,
        "amr": amr,
        "ended_at": None,
        "sid": session.get(SESSION_SID, ""),
    }
    # One INSERT ... ON CONFLICT DO UPDATE (update_or_create costs six statements with savepoints).
    (row,) = UserSession.objects.bulk_create(
        [UserSession(session_key=session.session_key, created=now, **fields)],
        update_conflicts=True,
        unique_fields=["session_key"],
        update_fields=list(fields),
    )
    data = {
        "method": methods[0] if methods else ("signup" if signup else "other"),
        "methods": methods,
        "amr": amr,
        "session": row.pk,
    }
    providers = [r["provider"] for r in records if r.get("method") == "socialaccount" and r.get("provider")]
    if providers:
        data["provider"] = providers[-1]
    if location:
        data["location"] = location
    security_event_record(kind=Kind.LOGIN, user=user, request=request, ip=ip, data=data)
    session[selectors.SESSION_ROW] = row.pk
    session[selectors.SESSION_ROW_KEY] = session.session_key
    cache.set(seen_cache_key(session.session_key), time.time(), security_settings.SESSION_SEEN_INTERVAL)
    return row


@transaction.atomic
def logout_record(*, request: HttpRequest, user) -> None:
    """The member signed out of this browser: end its row, record it, tell the RPs of the session."""
    row = _current_row(request=request, user=user, lock=True)
    if row is not None and row.ended_at is not None:
        return  # already ended and recorded (signed out everywhere)
    sid = request.session.get(SESSION_SID, "") or (row.sid if row else "")
    if row is not None:
        row.ended_at = timezone.now()
        row.save(update_fields=["ended_at"])
    security_event_record(kind=Kind.LOGOUT, user=user, request=request, data={"session": row.pk} if row else {})
    _schedule_backchannel(
        user=user,
        targets=selectors.backchannel_targets_for_sessions(user=user, sids=[sid]),
        request=request,
    )


# How an account was created, kept in the ``signup`` event's ``data["method"]`` (the dashboard
# counts sign-ups by it): a password, a passkey, or ``social:<provider id>``.
SIGNUP_PASSWORD = "password"
SIGNUP_PASSKEY = "passkey"
SIGNUP_SOCIAL_PREFIX = "social:"


@transaction.atomic
def signup_record(*, request: HttpRequest, user, method: str = SIGNUP_PASSWORD) -> SecurityEvent:
    return security_event_record(kind=Kind.SIGNUP, user=user, request=request, data={"method": method})


# --- known devices -----------------------------------------------------------------------------------


_DEVICE_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")


def _valid_device_token(token: str) -> bool:
    return bool(_DEVICE_TOKEN.fullmatch(token))


@transaction.atomic
def login_device_note(*, request: HttpRequest, response: HttpResponse | None, user, signup: bool) -> bool:
    """Recognise the browser of a completed sign-in; return True when it is new to the account.

    The browser keeps a long-lived random cookie; only its hash is stored, per account. A new
    device leaves a ``new_device`` event and a "new sign-in" email, except at sign-up and at
    the account's very first recorded device (no earlier device to compare with).
    """
    cookie = request.COOKIES.get(app_settings.DEVICE_COOKIE_NAME, "")
    known = _valid_device_token(cookie) and selectors.is_known_device(request, user)
    token = cookie if _valid_device_token(cookie) else secrets.token_urlsafe(32)
    now = timezone.now()
    first_device = not known and not KnownDevice.objects.filter(user=user).exists()
    KnownDevice.objects.bulk_create(
        [
            KnownDevice(
                user=user,
                device_hash=selectors.device_hash(token),
                first_seen=now,
                last_seen=now,
                user_agent=geo.user_agent(request),
            )
        ],
        update_conflicts=True,
        unique_fields=["user", "device_hash"],
        update_fields=["last_seen", "user_agent"],
    )
    if response is not None:
        response.set_cookie(
            app_settings.DEVICE_COOKIE_NAME,
            token,
            max_age=security_settings.DEVICE_COOKIE_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
    if known:
        return False
    if not signup and not first_device:
        ip = geo.client_ip(request)
        data = {"language": translation.get_language() or settings.LANGUAGE_CODE}
        location = geo.approximate_location(request, ip)
        if location:
            data["location"] = location
        event = security_event_record(kind=Kind.NEW_DEVICE, user=user, request=request, ip=ip, data=data)
        from accounts.security import tasks

        transaction.on_commit(partial(tasks.send_new_sign_in_email.delay, event.pk), robust=True)
    return True


def new_sign_in_email_send(*, event: SecurityEvent) -> None:
    """The "new sign-in" email for a ``new_device`` event, in the language of the sign-in."""
    user = event.user
    if user is None or not user.email or not user.is_active:
        return
    language = event.data.get("language") or user.locale or settings.LANGUAGE_CODE
    from accounts.selectors import member_timezone

    tz = member_timezone(user)
    with translation.override(language), timezone.override(tz):
        context = {
            "user": user,
            "when": event.created,
            "timezone": str(tz),
            "device": describe_device(event.user_agent),
            "location": event.data.get("location", ""),
            "ip": event.ip,
            "sessions_url": settings.IDP_PUBLIC_URL + reverse("accounts:security_sessions"),
            "reset_url": settings.IDP_PUBLIC_URL + reverse("account_reset_password"),
        }
        subject = render_to_string("accounts/security/email/new_sign_in_subject.txt", context)
        body = render_to_string("accounts/security/email/new_sign_in_message.txt", context)
        html = render_to_string("accounts/security/email/new_sign_in_message.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()), body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[user.email]
    )
    message.attach_alternative(html, "text/html")
    message.send()


# --- ending sessions -----------------------------------------------------------------------------------


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def _end_sessions(*, rows: list[UserSession]) -> list[str]:
    """Mark the rows ended and delete their Django sessions; return their OIDC ``sid`` values."""
    store = _session_store()
    sids = []
    for row in rows:
        sid = row.sid or store(session_key=row.session_key).get(SESSION_SID, "")
        if sid:
            sids.append(sid)
        store().delete(row.session_key)
    UserSession.objects.filter(pk__in=[row.pk for row in rows]).update(ended_at=timezone.now())
    return sids


def _schedule_backchannel(*, user, targets: list[tuple[int, str]], request: HttpRequest | None) -> None:
    from accounts.security import tasks

    if not targets:
        return
    issuer = backchannel.issuer_for(request)
    for client_pk, sid in targets:
        transaction.on_commit(
            partial(tasks.deliver_logout_token.delay, client_pk, str(user.sub), sid, issuer), robust=True
        )


def _end_and_notify(*, user, rows: list[UserSession], request: HttpRequest | None, reason: str) -> None:
    sids = _end_sessions(rows=rows)
    for row in rows:
        security_event_record(
            kind=Kind.SESSION_REVOKED,
            user=user,
            request=request,
            data={
                "session": row.pk,
                "reason": reason,
                "session_device": describe_device(row.user_agent),
                "session_location": row.location,
            },
        )
    _schedule_backchannel(
        user=user,
        targets=selectors.backchannel_targets_for_sessions(user=user, sids=sids),
        request=request,
    )


@transaction.atomic
def session_revoke(*, user, session_id: int, current_session_id: int | None, request: HttpRequest) -> bool:
    """Sign one other browser out. False if there is no such active session of the member."""
    row = (
        UserSession.objects.select_for_update()
        .filter(pk=session_id, user=user, ended_at__isnull=True)
        .exclude(pk=current_session_id or 0)
        .first()
    )
    if row is None:
        return False
    _end_and_notify(user=user, rows=[row], request=request, reason="revoked")
    return True


@transaction.atomic
def sessions_revoke_others(*, user, current_session_id: int | None, request: HttpRequest) -> int:
    """Sign out every browser but this one."""
    rows = list(
        UserSession.objects.select_for_update()
        .filter(user=user, ended_at__isnull=True)
        .exclude(pk=current_session_id or 0)
    )
    _end_and_notify(user=user, rows=rows, request=request, reason="others")
    return len(rows)


@transaction.atomic
def sign_out_everywhere(*, user, request: HttpRequest) -> dict:
    """End every session (this one too) and revoke every token relying parties hold for the member.

    Refresh tokens are revoked (with their access tokens), remaining access tokens and
    unredeemed authorization codes deleted. Every RP with a back-channel logout URI that the
    member signed in to or that held tokens gets a logout token without ``sid``: all of the
    member's sessions there end (OIDC Back-Channel Logout 1.0 §2.4).
    """
    clients = selectors.backchannel_clients_for_user(user=user)  # before the tokens go
    rows = list(UserSession.objects.select_for_update().filter(user=user, ended_at__isnull=True))
    _end_sessions(rows=rows)
    refresh_tokens = list(get_refresh_token_model().objects.filter(user=user, revoked__isnull=True))
    for token in refresh_tokens:
        token.revoke()
    access_tokens, _ = get_access_token_model().objects.filter(user=user).delete()
    get_grant_model().objects.filter(user=user).delete()
    summary = {
        "sessions": len(rows),
        "refresh_tokens": len(refresh_tokens),
        "access_tokens": access_tokens,
        "clients_notified": len(clients),
    }
    security_event_record(kind=Kind.SIGNED_OUT_EVERYWHERE, user=user, request=request, data=summary)
    _schedule_backchannel(user=user, targets=[(pk, "") for pk in clients], request=request)
    return summary


@transaction.atomic
def password_change_record(*, request: HttpRequest | None, user, reset: bool) -> None:
    """Password changed or reset: record it and end the member's other sessions.

    Django already refuses those sessions (the session hash follows the password); ending them
    here keeps the sessions page true and tells the RPs of those sessions.
    """
    security_event_record(kind=Kind.PASSWORD_RESET if reset else Kind.PASSWORD_CHANGED, user=user, request=request)
    current = _current_row(request=request, user=user, lock=True)
    if current is not None:
        session_rekey(request=request)  # Django gave this session a new key
    rows = list(
        UserSession.objects.select_for_update()
        .filter(user=user, ended_at__isnull=True)
        .exclude(pk=current.pk if current else 0)
    )
    _end_and_notify(user=user, rows=rows, request=request, reason="password_reset" if reset else "password_changed")


@transaction.atomic
def email_change_record(*, request: HttpRequest | None, user, old_email: str, new_email: str) -> SecurityEvent:
    return security_event_record(
        kind=Kind.EMAIL_CHANGED, user=user, request=request, data={"from": old_email, "to": new_email}
    )


def seen_cache_key(session_key: str) -> str:
    """Cache entry holding when a session's row was last written (epoch seconds)."""
    return f"idp:security:seen:{session_key}"


def session_seen(*, request: HttpRequest) -> bool:
    """Keep the row of a signed-in session current: last seen, IP, place and OIDC ``sid``.

    Called on every request of a signed-in member; writes at most once per
    ``ACCOUNTS_SESSION_SEEN_INTERVAL`` per session (the cache remembers the last write), or
    when the session gets a ``sid``. Returns False when the row says the session was ended
    (the caller signs the browser out).
    """
    session = request.session
    key = session.session_key
    if not key:
        return True
    sid = session.get(SESSION_SID, "")
    seen_key = seen_cache_key(key)
    now = time.time()
    last = cache.get(seen_key)
    due = last is None or now - last >= security_settings.SESSION_SEEN_INTERVAL
    if sid and cache.add(f"idp:security:sid:{key}:{sid}", 1, settings.SESSION_COOKIE_AGE):
        due = True
    if not due:
        return True
    cache.set(seen_key, now, security_settings.SESSION_SEEN_INTERVAL)
    with transaction.atomic():  # not around the cache check: most requests stop above
        return _session_seen_write(request=request, key=key, sid=sid)


def _session_seen_write(*, request: HttpRequest, key: str, sid: str) -> bool:
    session = request.session
    ip = geo.client_ip(request)
    fields = {"last_seen": timezone.now(), "ip": ip, "location": geo.approximate_location(request, ip)}
    if sid:
        fields["sid"] = sid
    row_id = session.get(selectors.SESSION_ROW)
    mine = {"pk": row_id} if row_id else {"session_key": key}
    if UserSession.objects.filter(user=request.user, ended_at__isnull=True, **mine).update(session_key=key, **fields):
        if session.get(selectors.SESSION_ROW_KEY) != key:
            session[selectors.SESSION_ROW_KEY] = key
        return True
    if UserSession.objects.filter(**mine).exists():
        return False
    # A session signed in before sessions were recorded: list it from now on.
    row = UserSession.objects.create(session_key=key, user=request.user, user_agent=geo.user_agent(request), **fields)
    session[selectors.SESSION_ROW] = row.pk
    session[selectors.SESSION_ROW_KEY] = key
    return True


def session_rekey(*, request: HttpRequest) -> None:
    """Follow a new session key (``cycle_key`` on a password change) in the session's row."""
    session = request.session
    row_id, key = session.get(selectors.SESSION_ROW), session.session_key
    if not row_id or not key or session.get(selectors.SESSION_ROW_KEY) == key:
        return
    UserSession.objects.filter(pk=row_id, user=request.user, ended_at__isnull=True).update(session_key=key)
    session[selectors.SESSION_ROW_KEY] = key


def _current_row(*, request: HttpRequest | None, user, lock: bool = False) -> UserSession | None:
    """The row of the request's session when it is ``user``'s."""
    if request is None or not request.user.is_authenticated or request.user.pk != user.pk:
        return None
    row_id = request.session.get(selectors.SESSION_ROW)
    rows = UserSession.objects.select_for_update() if lock else UserSession.objects
    if row_id:
        return rows.filter(pk=row_id, user=user).first()
    key = request.session.session_key
    return rows.filter(session_key=key, user=user).first() if key else None


# --- throttling and credential stuffing -----------------------------------------------------------------


def throttle_record(*, request: HttpRequest, action: str, user=None, data: dict | None = None) -> SecurityEvent | None:
    """A "too many attempts" event, at most one per action, source and account per interval."""
    source = geo.source_of(geo.client_ip(request)) or "-"
    dedupe = f"idp:security:throttled:{action}:{source}:{user.pk if user else '-'}"
    if not cache.add(dedupe, 1, security_settings.THROTTLE_EVENT_INTERVAL):
        return None
    return security_event_record(
        kind=Kind.THROTTLED, user=user, request=request, data={"action": action, **(data or {})}
    )


@transaction.atomic
def login_failure_record(*, request: HttpRequest, login: str) -> None:
    """A failed sign-in: an event for the account (if it exists) and the credential-stuffing count.

    Failures to many *different* accounts from one source (IP, or IPv6 /64) within
    ``ACCOUNTS_STUFFING_WINDOW`` mark the source for ``ACCOUNTS_STUFFING_SUSPECT_SECONDS``;
    while marked, its sign-ins are held to ``ACCOUNTS_STUFFING_LOGIN_RATE``
    (see :func:`suspect_login_allowed`).
    """
    user = selectors.user_for_login(login)
    ip = geo.client_ip(request)
    data = {} if user is not None else {"login_id": _login_id(login)}
    security_event_record(kind=Kind.LOGIN_FAILED, user=user, request=request, ip=ip, data=data)
    source = geo.source_of(ip)
    if source and login:
        _count_failed_account(request=request, source=source, login=login)


def _count_failed_account(*, request: HttpRequest, source: str, login: str) -> None:
    window = security_settings.STUFFING_WINDOW
    if not cache.add(f"idp:security:failed:{source}:{_login_id(login)}", 1, window):
        return  # this account already counted for this source
    counter = f"idp:security:failed-accounts:{source}"
    cache.add(counter, 0, window)
    try:
        accounts = cache.incr(counter)
    except ValueError:  # expired between add and incr
        cache.set(counter, 1, window)
        accounts = 1
    if accounts < security_settings.STUFFING_DISTINCT_ACCOUNTS or selectors.source_suspicion(source):
        return
    now = time.time()
    lasts = security_settings.STUFFING_SUSPECT_SECONDS
    cache.set(selectors.suspect_key(source), {"since": now, "until": now + lasts, "accounts": accounts}, lasts)
    cache.delete(counter)
    security_event_record(
        kind=Kind.THROTTLED,
        request=request,
        data={
            "action": "login",
            "reason": "credential_stuffing",
            "source": source,
            "accounts": accounts,
            "window": window,
            "until": int(now + lasts),
        },
    )


def suspect_login_allowed(*, request: HttpRequest, login: str) -> bool:
    """The stricter bar for a sign-in from a source marked for credential stuffing.

    A browser that shows a device cookie known for the account it signs in to is not held
    back (stuffing bots do not have them); others get ``ACCOUNTS_STUFFING_LOGIN_RATE``.
    allauth's own limits apply to every source in any case.
    """
    source = geo.source_of(geo.client_ip(request))
    if selectors.source_suspicion(source) is None:
        return True
    user = selectors.user_for_login(login)
    if user is not None and selectors.is_known_device(request, user):
        return True
    if ratelimit.consume(
        request,
        app=RATE_LIMIT_APP,
        action="login",
        config={"login": security_settings.STUFFING_LOGIN_RATE},
    ):
        return True
    throttle_record(request=request, action="login", user=user, data={"reason": "credential_stuffing"})
    return False


def backchannel_logout_deliver(*, client, sub: str, sid: str, issuer: str) -> int:
    """Sign a fresh logout token for ``client`` and POST it to its back-channel logout URI."""
    token = backchannel.logout_token(issuer=issuer, client_id=client.client_id, sub=sub, sid=sid)
    return backchannel.deliver(uri=client.backchannel_logout_uri, token=token)
