"""State changes of second factors and passkeys; each leaves a security event.

Verification failures are *returned* (or raised after the transaction that recorded them has
committed), so the failure count and its security event survive the refusal.
"""

from __future__ import annotations

import secrets
from binascii import unhexlify

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django_otp.models import GenerateNotAllowed
from django_otp.oath import TOTP
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from accounts import selectors as account_selectors
from accounts.app_settings import app_settings
from accounts.mfa import passkeys, selectors
from accounts.mfa.app_settings import mfa_settings
from accounts.models import RecoveryCode, SecurityEvent, WebAuthnCredential
from accounts.security import services as security_services

Kind = SecurityEvent.Kind

TOTP_DEVICE_NAME = "Authenticator app"
EMAIL_DEVICE_NAME = "Email"
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
_RECOVERY_SALT = "accounts.mfa.recovery_code"


class MFAError(Exception):
    """A refused second-factor action: a stable ``code``, a translated message, an HTTP status."""

    def __init__(self, code: str, message, *, status: int = 400):
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.status = status


class LastFactorError(MFAError):
    def __init__(self):
        super().__init__(
            "last_factor",
            _(
                "This is your last sign-in method for two-step verification, which your account "
                "requires. Add another one before removing it."
            ),
            status=409,
        )


# --- security events --------------------------------------------------------------------------------
def security_event_record(*, user, kind: str, request: HttpRequest | None = None, **data) -> SecurityEvent:
    """One row of the member's security history; the keyword arguments become its data."""
    return security_services.security_event_record(
        kind=kind, user=user, request=request, data={k: v for k, v in data.items() if v is not None}
    )


# --- failed codes ------------------------------------------------------------------------------------
def _failure_note(*, user, method: str, request: HttpRequest | None) -> int:
    """Count a wrong code against the account (cache, so Redis in production) and record it."""
    key = selectors.failure_cache_key(user)
    cache.add(key, 0, mfa_settings.MFA_FAILURE_WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, mfa_settings.MFA_FAILURE_WINDOW)
        count = 1
    security_event_record(user=user, kind=Kind.MFA_CHALLENGE_FAILED, request=request, method=method, failures=count)
    if count == mfa_settings.MFA_MAX_FAILURES:
        security_event_record(user=user, kind=Kind.THROTTLED, request=request, scope="second_factor")
    return count


def _failure_reset(*, user) -> None:
    cache.delete(selectors.failure_cache_key(user))


def _refuse_if_locked(user) -> None:
    if selectors.second_factor_locked(user):
        raise MFAError(
            "throttled",
            _("Too many wrong codes. Wait a few minutes and try again, or use a passkey."),
            status=429,
        )


def _removal_allowed(user, *, current: selectors.Factors, remaining: selectors.Factors) -> None:
    """Refuse a removal that strands a member who must use MFA, or one without a password."""

    def mfa_ways(f: selectors.Factors) -> bool:
        return f.has_strong_factor or f.email is not None

    if account_selectors.mfa_required_for_user(user) and mfa_ways(current) and not mfa_ways(remaining):
        raise LastFactorError()
    if not user.has_usable_password() and current.usable_passkeys and not remaining.usable_passkeys:
        raise MFAError(
            "last_way_in",
            _("This passkey is the only way into your account. Set a password or add another passkey first."),
            status=409,
        )


def _after_removal(*, user, request: HttpRequest | None) -> None:
    """Without an app or passkey, recovery codes and email codes have nothing to back up."""
    factors = selectors.factors_for(user)
    if factors.has_strong_factor or account_selectors.mfa_required_for_user(user):
        return
    if RecoveryCode.objects.filter(user=user).delete()[0]:
        security_event_record(user=user, kind=Kind.MFA_REMOVED, request=request, method="recovery_codes")
    if EmailDevice.objects.filter(user=user).delete()[0]:
        security_event_record(user=user, kind=Kind.MFA_REMOVED, request=request, method="email")


# --- TOTP --------------------------------------------------------------------------------------------
def totp_key_new() -> str:
    """A fresh 160-bit TOTP secret (hex), kept in the session until the first code confirms it."""
    return random_hex(20)


def totp_config_url(*, user, key: str) -> str:
    """otpauth:// URI for authenticator apps (django-otp's, issuer from OTP_TOTP_ISSUER)."""
    return TOTPDevice(user=user, key=key).config_url


def totp_manual_key(key: str) -> str:
    from base64 import b32encode

    raw = b32encode(unhexlify(key)).decode()
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _code(value: str) -> str:
    return "".join(value.split()).replace("-", "").lower()


@transaction.atomic
def totp_device_confirm(*, user, key: str, token: str, request: HttpRequest | None = None) -> TOTPDevice | None:
    """Create the member's authenticator-app device if ``token`` is a current code for ``key``."""
    _refuse_if_locked(user)
    if TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).exists():
        raise MFAError("exists", _("An authenticator app is already set up. Remove it first."), status=409)
    token = _code(token)
    totp = TOTP(unhexlify(key.encode()), step=30, t0=0, digits=6)
    if not (token.isdigit() and len(token) == 6 and totp.verify(int(token), tolerance=1)):
        _failure_note(user=user, method="totp", request=request)
        return None
    TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(
        user=user, name=TOTP_DEVICE_NAME, key=key, confirmed=True, last_t=totp.t(), drift=totp.drift
    )
    _failure_reset(user=user)
    security_event_record(user=user, kind=Kind.MFA_ADDED, request=request, method="totp")
    return device


@transaction.atomic
def totp_device_remove(*, user, request: HttpRequest | None = None) -> None:
    factors = selectors.factors_for(user)
    if factors.totp is None:
        return
    remaining = selectors.Factors(
        totp=None,
        email=factors.email,
        passkeys=factors.passkeys,
        recovery_codes_left=factors.recovery_codes_left,
    )
    _removal_allowed(user, current=factors, remaining=remaining)
    TOTPDevice.objects.filter(user=user).delete()
    security_event_record(user=user, kind=Kind.MFA_REMOVED, request=request, method="totp")
    _after_removal(user=user, request=request)


# --- recovery codes ----------------------------------------------------------------------------------
def recovery_code_hash(*, user, code: str, secret: str | None = None) -> str:
    """Keyed HMAC-SHA256 of a normalised code: codes have 60 random bits, so a slow hash buys nothing."""
    return salted_hmac(_RECOVERY_SALT, f"{user.pk}:{_code(code)}", secret=secret, algorithm="sha256").hexdigest()


def _recovery_hashes(*, user, code: str) -> list[str]:
    secrets_ = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [recovery_code_hash(user=user, code=code, secret=s) for s in secrets_]


def _recovery_code_new() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


@transaction.atomic
def recovery_codes_generate(*, user, request: HttpRequest | None = None) -> list[str]:
    """New single-use codes, returned once in clear; any older codes stop working."""
    if not selectors.factors_for(user).has_strong_factor:
        raise MFAError("no_factor", _("Set up an authenticator app or a passkey before creating recovery codes."))
    RecoveryCode.objects.filter(user=user).delete()
    codes = [_recovery_code_new() for _ in range(app_settings.RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(user=user, code_hash=recovery_code_hash(user=user, code=c)) for c in codes]
    )
    security_event_record(user=user, kind=Kind.MFA_ADDED, request=request, method="recovery_codes", count=len(codes))
    return codes


def _recovery_code_use(*, user, code: str, request: HttpRequest | None) -> RecoveryCode | None:
    now = timezone.now()
    for digest in _recovery_hashes(user=user, code=code):
        row = RecoveryCode.objects.select_for_update().filter(user=user, code_hash=digest, used_at__isnull=True).first()
        # The conditional update is what makes the code single-use under concurrency.
        if row and RecoveryCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now):
            row.used_at = now
            left = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
            security_event_record(user=user, kind=Kind.RECOVERY_CODE_USED, request=request, left=left)
            return row
    return None


# --- email codes -------------------------------------------------------------------------------------
@transaction.atomic
def email_device_enable(*, user, request: HttpRequest | None = None) -> EmailDevice:
    if not selectors.email_verified(user):
        raise MFAError("email_unverified", _("Verify your email address before using it for codes."))
    if not selectors.email_codes_allowed(user):
        raise MFAError(
            "no_factor",
            _("Email codes are a backup method: set up an authenticator app or a passkey first."),
        )
    device = EmailDevice.objects.filter(user=user).first()
    if device is None:
        device = EmailDevice.objects.create(user=user, name=EMAIL_DEVICE_NAME, confirmed=True)
        security_event_record(user=user, kind=Kind.MFA_ADDED, request=request, method="email")
    elif not device.confirmed:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        security_event_record(user=user, kind=Kind.MFA_ADDED, request=request, method="email")
    return device


@transaction.atomic
def email_device_disable(*, user, request: HttpRequest | None = None) -> None:
    factors = selectors.factors_for(user)
    if factors.email is None:
        return
    remaining = selectors.Factors(
        totp=factors.totp,
        email=None,
        passkeys=factors.passkeys,
        recovery_codes_left=factors.recovery_codes_left,
    )
    _removal_allowed(user, current=factors, remaining=remaining)
    EmailDevice.objects.filter(user=user).delete()
    security_event_record(user=user, kind=Kind.MFA_REMOVED, request=request, method="email")


@transaction.atomic
def email_code_send(*, user, request: HttpRequest | None = None) -> None:
    """Email a one-time code (django-otp EmailDevice: validity, cooldown between sends)."""
    device = EmailDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
    if device is None:
        raise MFAError("no_device", _("Email codes are not turned on for your account."))
    allowed, info = device.generate_is_allowed()
    if not allowed:
        if info and info.get("reason") == GenerateNotAllowed.COOLDOWN_DURATION_PENDING:
            raise MFAError("cooldown", _("We just sent you a code. Wait a minute before asking again."), status=429)
        raise MFAError("not_allowed", _("A code cannot be sent right now."), status=429)
    device.cooldown_set(commit=False)
    device.generate_token(valid_secs=getattr(settings, "OTP_EMAIL_TOKEN_VALIDITY", 300), commit=True)
    context = {
        "user": user,
        "code": device.token,
        "minutes": getattr(settings, "OTP_EMAIL_TOKEN_VALIDITY", 300) // 60,
    }
    email = device.email or user.email
    language = translation.get_language()
    transaction.on_commit(lambda: _code_mail_send(email=email, context=context, language=language), robust=True)


def _code_mail_send(*, email: str, context: dict, language: str | None) -> None:
    with translation.override(language):
        subject = " ".join(render_to_string("accounts/mfa/email/code_subject.txt", context).split())
        body = render_to_string("accounts/mfa/email/code_message.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])


# --- verification of a code --------------------------------------------------------------------------
@transaction.atomic
def second_factor_code_verify(*, user, method: str, code: str, request: HttpRequest | None = None):
    """Check a TOTP, recovery or email code. Returns the device or recovery code, or None.

    Wrong codes count towards the account's lock (and django-otp's per-device back-off) and
    leave an ``mfa_failed`` event. Raises :class:`MFAError` while the account is locked.
    """
    _refuse_if_locked(user)
    code = _code(code or "")
    matched = None
    if code:
        if method == selectors.TOTP:
            device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
            if device is not None:
                allowed, _info = device.verify_is_allowed()
                if not allowed:
                    raise MFAError(
                        "throttled", _("Too many wrong codes. Wait a few seconds and try again."), status=429
                    )
                matched = device if device.verify_token(code) else None
        elif method == selectors.EMAIL:
            # Whether email codes may serve this sign-in was decided with its context (the
            # methods offered); here only the device and its code count.
            device = EmailDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
            if device is not None:
                matched = device if device.verify_token(code) else None
        elif method == selectors.RECOVERY_CODES:
            matched = _recovery_code_use(user=user, code=code, request=request)
    if matched is None:
        _failure_note(user=user, method=method, request=request)
        return None
    _failure_reset(user=user)
    return matched


# --- passkeys ----------------------------------------------------------------------------------------
@transaction.atomic
def passkey_add(
    *,
    user,
    name: str,
    credential_id: bytes,
    public_key: bytes,
    sign_count: int,
    aaguid: str,
    transports: list[str],
    discoverable: bool,
    backup_eligible: bool,
    backup_state: bool,
    request: HttpRequest | None = None,
) -> WebAuthnCredential:
    if WebAuthnCredential.objects.filter(credential_id=credential_id).exists():
        raise MFAError("duplicate", _("This passkey is already registered."), status=409)
    if WebAuthnCredential.objects.filter(user=user).count() >= mfa_settings.PASSKEY_MAX_PER_USER:
        raise MFAError("too_many", _("You have too many passkeys. Remove one first."), status=409)
    credential = WebAuthnCredential.objects.create(
        user=user,
        name=name.strip()[:64] or str(_("Passkey")),
        credential_id=credential_id,
        public_key=public_key,
        sign_count=sign_count,
        aaguid=aaguid,
        transports=transports,
        discoverable=discoverable,
        backup_eligible=backup_eligible,
        backup_state=backup_state,
    )
    security_event_record(
        user=user, kind=Kind.PASSKEY_ADDED, request=request, passkey=credential.pk, name=credential.name
    )
    return credential


@transaction.atomic
def passkey_rename(*, credential: WebAuthnCredential, name: str, request: HttpRequest | None = None) -> None:
    name = name.strip()[:64]
    if not name or name == credential.name:
        return
    old = credential.name
    credential.name = name
    credential.save(update_fields=["name"])
    security_event_record(
        user=credential.user,
        kind=Kind.PASSKEY_RENAMED,
        request=request,
        method="webauthn",
        passkey=credential.pk,
        renamed_from=old,
        name=name,
    )


@transaction.atomic
def passkey_remove(*, credential: WebAuthnCredential, request: HttpRequest | None = None) -> None:
    user = credential.user
    factors = selectors.factors_for(user)
    remaining = selectors.Factors(
        totp=factors.totp,
        email=factors.email,
        passkeys=tuple(p for p in factors.passkeys if p.pk != credential.pk),
        recovery_codes_left=factors.recovery_codes_left,
    )
    _removal_allowed(user, current=factors, remaining=remaining)
    credential.delete()
    security_event_record(
        user=user, kind=Kind.PASSKEY_REMOVED, request=request, passkey=credential.pk, name=credential.name
    )
    _after_removal(user=user, request=request)


@transaction.atomic
def passkey_assertion_accept(
    *,
    credential: WebAuthnCredential,
    new_sign_count: int,
    backed_up: bool,
    request: HttpRequest | None = None,
) -> bool:
    """Record a verified assertion; refuse and flag it when the signature counter went backwards.

    WebAuthn L2 §7.2 step 21: when either counter is non-zero, the new one must be greater
    than the stored one, or the authenticator may have been cloned. Authenticators that do
    not count (both zero, as synced passkeys do) are accepted.
    """
    credential = WebAuthnCredential.objects.select_for_update().get(pk=credential.pk)
    stored = credential.sign_count
    if (new_sign_count or stored) and new_sign_count <= stored:
        credential.flagged_at = timezone.now()
        credential.save(update_fields=["flagged_at"])
        security_event_record(
            user=credential.user,
            kind=Kind.PASSKEY_REJECTED,
            request=request,
            passkey=credential.pk,
            reason="counter",
            stored=stored,
            received=new_sign_count,
        )
        return False
    credential.sign_count = new_sign_count
    credential.backup_state = backed_up
    credential.last_used_at = timezone.now()
    credential.save(update_fields=["sign_count", "backup_state", "last_used_at"])
    return True


@transaction.atomic
def passkey_rejection_record(
    *, user, reason: str, detail: str = "", passkey: int | None = None, request: HttpRequest | None = None
) -> None:
    security_event_record(
        user=user,
        kind=Kind.PASSKEY_REJECTED,
        request=request,
        reason=reason,
        detail=detail[:200] or None,
        passkey=passkey,
    )


@transaction.atomic
def passkey_signup(*, request: HttpRequest, form, sub, name: str, registration: dict):
    """Create an account with an email address and a passkey, without a password."""
    adapter = get_adapter(request)
    user = adapter.new_user(request)
    user.sub = sub
    user = adapter.save_user(request, user, form, commit=False) or user
    user.set_unusable_password()
    user.save()
    from allauth.account.models import EmailAddress
    from allauth.account.utils import setup_user_email

    setup_user_email(request, user, [EmailAddress(email=form.cleaned_data["email"])])
    passkey_add(user=user, name=name, request=request, **registration)
    form.custom_signup(request, user)  # legal acceptance, opt-ins, programmes joined: as with a password
    return user


@transaction.atomic
def step_up_record(*, user, method: str, acr: str, request: HttpRequest | None = None) -> None:
    security_event_record(user=user, kind=Kind.STEP_UP, request=request, method=method, acr=acr)


def passkey_authenticate(*, request: HttpRequest, purpose: str, credential: str, user=None) -> WebAuthnCredential:
    """Verify a WebAuthn assertion and record its use.

    Raises :class:`accounts.mfa.passkeys.PasskeyError` (after a ``passkey_rejected`` event)
    for a forged, replayed or unknown response, or a counter that went backwards.
    """
    try:
        row, verified = passkeys.verify_authentication(request, purpose=purpose, credential=credential, user=user)
    except passkeys.PasskeyError as error:
        owner = error.credential.user if error.credential is not None else user
        passkey_rejection_record(
            user=owner,
            reason=error.code,
            detail=error.detail,
            passkey=error.credential.pk if error.credential is not None else None,
            request=request,
        )
        raise
    accepted = passkey_assertion_accept(
        credential=row,
        new_sign_count=verified.new_sign_count,
        backed_up=verified.credential_backed_up,
        request=request,
    )
    if not accepted:
        raise passkeys.PasskeyError("counter", "sign counter did not increase", credential=row)
    return row


def passkey_register(*, request: HttpRequest, user, name: str, credential: str) -> WebAuthnCredential:
    """Verify a WebAuthn registration for a signed-in member (or one enrolling during a login)."""
    try:
        registration, state = passkeys.verify_registration(request, purpose=passkeys.REGISTER, credential=credential)
        if state.get("user") != user.pk:
            raise passkeys.PasskeyError("challenge", "challenge issued to another account")
    except passkeys.PasskeyError as error:
        passkey_rejection_record(user=user, reason=error.code, detail=error.detail, request=request)
        raise
    return passkey_add(user=user, name=name, request=request, **registration.as_kwargs())
