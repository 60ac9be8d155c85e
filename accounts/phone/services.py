"""Changing the member's phone number: a code by SMS first, the number only once it is entered."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import PhoneVerification, SecurityEvent
from accounts.phone.app_settings import phone_settings
from accounts.security.services import security_event_record
from idp.services import audit_record

_SEPARATORS = re.compile(r"[\s\-().\u2010-\u2015\u30fc]")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


class PhoneError(Exception):
    """A refused step, with a stable ``code`` and a message for the member."""

    MESSAGES = {
        "invalid_number": _("Enter a phone number with its country code, such as +81 90 1234 5678."),
        "same_number": _("This is already your verified phone number."),
        "rate_limited": _("Too many codes were sent. Try again later."),
        "wrong_code": _("That code is not right. Check the text message and try again."),
        "expired": _("This code has expired. Send a new one."),
        "too_many_attempts": _("Too many wrong codes. Send a new one."),
        "no_pending": _("There is no code waiting to be entered. Send a new one."),
    }

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = self.MESSAGES[code]


def normalize_phone_number(raw: str) -> str:
    """E.164 (``+819012345678``); a national number (``090-1234-5678``) gets the default country code."""
    number = _SEPARATORS.sub("", (raw or "").strip()).translate(
        str.maketrans("０１２３４５６７８９＋", "0123456789+")  # full-width digits, as typed on Japanese phones
    )
    if number.startswith("00"):
        number = "+" + number[2:]
    elif number.startswith("0"):
        number = f"+{phone_settings.DEFAULT_COUNTRY_CODE}{number[1:]}"
    if not _E164.match(number):
        raise PhoneError("invalid_number")
    return number


def code_hash(*, verification_user_id: int, phone_number: str, code: str) -> str:
    """Keyed hash of a code, bound to the account and the number it was sent to."""
    message = f"{verification_user_id}:{phone_number}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _generate_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def phone_verification_start(*, user, phone_number: str, language: str = "") -> PhoneVerification:
    """Send a code to ``phone_number`` (raw input); earlier pending codes of the member stop working.

    Limited to ``MAX_SENDS`` codes per ``SEND_WINDOW`` for the account and for the number, so the
    form cannot be used to flood someone's phone or to run up the SMS bill. A refusal leaves a
    ``throttled`` security event.
    """
    from accounts.phone import tasks

    number = normalize_phone_number(phone_number)
    if number == user.phone_number and user.phone_number_verified:
        raise PhoneError("same_number")
    code = _generate_code()
    with transaction.atomic():
        now = timezone.now()
        since = now - timedelta(seconds=phone_settings.SEND_WINDOW)
        # Lock the member's row so that concurrent sends are counted one after the other.
        get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        recent = PhoneVerification.objects.filter(created__gte=since)
        limited = (
            recent.filter(user=user).count() >= phone_settings.MAX_SENDS
            or recent.filter(phone_number=number).count() >= phone_settings.MAX_SENDS
        )
        if not limited:
            PhoneVerification.objects.filter(user=user, verified_at__isnull=True, expires_at__gt=now).update(
                expires_at=now
            )
            verification = PhoneVerification.objects.create(
                user=user,
                phone_number=number,
                code_hash=code_hash(verification_user_id=user.pk, phone_number=number, code=code),
                created=now,
                expires_at=now + timedelta(seconds=phone_settings.CODE_SECONDS),
            )
            audit_record(kind="account.phone_code_sent", user=user, data={"verification": verification.pk})
            transaction.on_commit(lambda: tasks.send_phone_code.delay(verification.pk, code, language or ""))
    if limited:
        security_event_record(
            kind=SecurityEvent.Kind.THROTTLED, user=user, data={"action": "phone_code", "reason": "rate_limit"}
        )
        raise PhoneError("rate_limited")
    return verification


def pending_verification(*, user, verification_id: int | None) -> PhoneVerification | None:
    if not verification_id:
        return None
    return PhoneVerification.objects.filter(pk=verification_id, user=user, verified_at__isnull=True).first()


def phone_verification_confirm(*, user, verification_id: int | None, code: str, request=None) -> PhoneVerification:
    """Check ``code``; when right, the number becomes the member's verified phone number.

    Raises :class:`PhoneError` (``no_pending``, ``expired``, ``too_many_attempts``, ``wrong_code``).
    A wrong code counts even when the transaction of the caller is rolled back: it is written in
    its own atomic block before the error is raised.
    """
    now = timezone.now()
    with transaction.atomic():
        verification = (
            PhoneVerification.objects.select_for_update()
            .filter(pk=verification_id or 0, user=user, verified_at__isnull=True)
            .first()
        )
        if verification is None:
            raise PhoneError("no_pending")
        if verification.expires_at <= now:
            raise PhoneError("expired")
        if verification.attempts >= phone_settings.MAX_ATTEMPTS:
            raise PhoneError("too_many_attempts")
        expected = code_hash(verification_user_id=user.pk, phone_number=verification.phone_number, code=code.strip())
        if not hmac.compare_digest(expected, verification.code_hash):
            verification.attempts += 1
            verification.save(update_fields=["attempts"])
            wrong = True
        else:
            wrong = False
            previous = user.phone_number
            verification.verified_at = now
            verification.save(update_fields=["verified_at"])
            user.phone_number = verification.phone_number
            user.phone_number_verified = True
            user.save(update_fields=["phone_number", "phone_number_verified", "updated_at"])
            # Other pending codes (for another number) die with this change.
            PhoneVerification.objects.filter(Q(user=user, verified_at__isnull=True) & ~Q(pk=verification.pk)).update(
                expires_at=now
            )
            security_event_record(
                kind=SecurityEvent.Kind.PHONE_CHANGED,
                user=user,
                request=request,
                data={"had_number": bool(previous)},
            )
            audit_record(kind="account.phone_changed", user=user, data={"verification": verification.pk})
    if wrong:
        if verification.attempts >= phone_settings.MAX_ATTEMPTS:
            raise PhoneError("too_many_attempts")
        raise PhoneError("wrong_code")
    return verification


@transaction.atomic
def phone_number_remove(*, user, request=None) -> None:
    """Forget the member's phone number."""
    if not user.phone_number:
        return
    user.phone_number = ""
    user.phone_number_verified = False
    user.save(update_fields=["phone_number", "phone_number_verified", "updated_at"])
    security_event_record(kind=SecurityEvent.Kind.PHONE_CHANGED, user=user, request=request, data={"removed": True})
    audit_record(kind="account.phone_removed", user=user)


def phone_code_send(*, verification: PhoneVerification, code: str, language: str = "") -> None:
    """Send the SMS (called by the task, after the transaction committed)."""
    from django.utils import translation

    from accounts.phone.sms import send_sms

    with translation.override(language or settings.LANGUAGE_CODE):
        body = str(
            _("%(code)s is your Member ID verification code. It expires in %(minutes)d minutes.")
            % {"code": code, "minutes": max(1, phone_settings.CODE_SECONDS // 60)}
        )
    send_sms(to=verification.phone_number, body=body)
