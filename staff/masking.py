"""Masking of members' personal data for staff without ``staff.unmask_personal_data``.

Which fields are personal is decided here, once, for every model in the admin: foreign keys to
the user model (shown as the member's masked email), fields named in :data:`PII_KINDS`, email
and IP address fields, and the per-model extras of :data:`EXTRA`. The admin mixin in
:mod:`staff.admin_mixins` swaps those fields for masked read-only values.

Break glass: a staff member states a reason and sees one member unmasked for
``STAFF_UNMASK_MINUTES`` in their own session (:func:`unmask_grant`, :func:`is_unmasked`).
"""

from __future__ import annotations

import ipaddress
import time

from django.conf import settings
from django.db import models

from staff.app_settings import staff_settings

UNMASK_PERMISSION = "staff.unmask_personal_data"
SESSION_KEY = "staff_unmasked"
DOT = "•••"

PII_KINDS = {
    "email": "email",
    "notify_email": "email",
    "given_name": "name",
    "family_name": "name",
    "nickname": "name",
    "name": None,  # a client's or program's name is not personal; only per-model extras mask it
    "phone_number": "phone",
    "address": "text",
    "birthdate": "date",
    "ip": "ip",
    "location": "text",
    "uid": "text",
    "extra_data": "text",
}
EXTRA = {
    "accounts.SecurityEvent": {"data": "text"},
    "accounts.MemberAttributes": {"data": "text"},
    "socialaccount.SocialAccount": {"uid": "text", "extra_data": "text"},
    "otp_email.EmailDevice": {"email": "email"},
}
# Models that name people but whose people are not members (their own admins see them whole).
NOT_MEMBER_DATA = {"staff.AuditEntry", "auth.Group", "auth.Permission"}


def mask_email(value: str) -> str:
    local, _sep, domain = (value or "").partition("@")
    if not local:
        return ""
    return f"{local[0]}{DOT}@{domain}" if domain else f"{local[0]}{DOT}"


def mask_name(value: str) -> str:
    return f"{value[0]}{DOT}" if value else ""


def mask_phone(value: str) -> str:
    digits = "".join(c for c in value or "" if c.isdigit())
    return f"{DOT}{digits[-2:]}" if digits else ""


def mask_ip(value) -> str:
    if not value:
        return ""
    try:
        ip = ipaddress.ip_address(str(value))
    except ValueError:
        return DOT
    if ip.version == 4:
        a, b, _c, _d = str(ip).split(".")
        return f"{a}.{b}.x.x"
    return str(ip).split(":")[0] + ":" + DOT


def mask_text(value) -> str:
    return DOT if value not in (None, "", {}, []) else ""


def mask_date(value) -> str:
    return "••••-••-••" if value else ""


def mask_member(user) -> str:
    return mask_email(user.email) if user is not None else ""


MASKERS = {
    "email": mask_email,
    "name": mask_name,
    "phone": mask_phone,
    "ip": mask_ip,
    "text": mask_text,
    "date": mask_date,
    "member": mask_member,
}


def mask(kind: str, value) -> str:
    return MASKERS[kind](value)


def pii_fields(model) -> dict[str, str]:
    """Field name → mask kind for every personal field of ``model`` (empty for non-member data)."""
    label = model._meta.label
    if label in NOT_MEMBER_DATA:
        return {}
    found: dict[str, str] = {}
    for field in model._meta.concrete_fields:
        if field.is_relation:
            if field.related_model is not None and field.related_model._meta.label == settings.AUTH_USER_MODEL:
                found[field.name] = "member"
            continue
        kind = PII_KINDS.get(field.name)
        if kind is None and isinstance(field, models.EmailField):
            kind = "email"
        if kind is None and isinstance(field, models.GenericIPAddressField):
            kind = "ip"
        if kind:
            found[field.name] = kind
    found.update(EXTRA.get(label, {}))
    return found


def member_id_of(obj) -> int | None:
    """The member a row belongs to, or ``None`` (for the user model: the row itself)."""
    from django.contrib.auth import get_user_model

    if obj is None:
        return None
    if isinstance(obj, get_user_model()):
        return obj.pk
    for attr in ("user_id", "user_ref"):
        value = getattr(obj, attr, None)
        if value is not None:
            return value
    membership = getattr(obj, "membership", None) if hasattr(type(obj), "membership") else None
    if membership is not None:
        return membership.user_id
    return None


def can_unmask_all(user) -> bool:
    return user.has_perm(UNMASK_PERMISSION)


def unmask_grant(request, member_id: int) -> float:
    """Unmask ``member_id`` for this staff session; returns the expiry (epoch seconds)."""
    grants = _live_grants(request)
    expires = time.time() + staff_settings.UNMASK_MINUTES * 60
    grants[str(member_id)] = expires
    request.session[SESSION_KEY] = grants
    return expires


def _live_grants(request) -> dict[str, float]:
    now = time.time()
    return {k: v for k, v in request.session.get(SESSION_KEY, {}).items() if v > now}


def unmask_expires(request, member_id: int | None) -> float | None:
    if member_id is None:
        return None
    return _live_grants(request).get(str(member_id))


def is_unmasked(request, member_id: int | None) -> bool:
    """May this request show ``member_id``'s personal data in clear?"""
    if can_unmask_all(request.user):
        return True
    return unmask_expires(request, member_id) is not None
