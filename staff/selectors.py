"""Reads of the staff app: the single customer view and the audit log's export rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max

from staff import masking
from staff.app_settings import staff_settings
from staff.models import AuditEntry


@dataclass
class ClientUse:
    client_id: int
    name: str = ""
    authorized: Any = None
    last_code: Any = None
    last_token: Any = None
    revoked: bool = False

    @property
    def last_used(self):
        return max((t for t in (self.authorized, self.last_code, self.last_token) if t is not None), default=None)


@dataclass
class CustomerOverview:
    user: Any
    masked: bool
    identity: list[tuple[Any, str]]
    emails: list[dict]
    social_accounts: list[dict]
    sessions: list[dict]
    devices: list[dict]
    clients: list[ClientUse]
    consents: list[dict]
    consent_changes: list[dict]
    legal: list[dict]
    memberships: list[dict]
    ledger: list[dict]
    mfa: dict
    security_events: list[dict] = field(default_factory=list)


def customer_overview(*, user, masked: bool) -> CustomerOverview:
    """Everything staff need about one member, in a fixed number of queries.

    With ``masked`` every personal value is masked here, before it reaches a template.
    """
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount
    from django_otp.plugins.otp_email.models import EmailDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model

    from accounts.models import KnownDevice, RecoveryCode, SecurityEvent, UserSession, WebAuthnCredential
    from consent.models import ConsentRecord, ConsentState, LegalAcceptance
    from idp.models import Client, ClientAuthorization, CodeIssuance
    from loyalty.models import LedgerEntry, Membership

    rows = staff_settings.CUSTOMER_VIEW_ROWS

    def m(kind: str, value) -> str:
        if value in (None, ""):
            return ""
        return masking.mask(kind, value) if masked else str(value)

    identity = [
        (user._meta.get_field("email").verbose_name, m("email", user.email)),
        (user._meta.get_field("given_name").verbose_name, m("name", user.given_name)),
        (user._meta.get_field("family_name").verbose_name, m("name", user.family_name)),
        (user._meta.get_field("nickname").verbose_name, m("name", user.nickname)),
        (user._meta.get_field("phone_number").verbose_name, m("phone", user.phone_number)),
        (user._meta.get_field("address").verbose_name, m("text", user.address or "")),
        (user._meta.get_field("sub").verbose_name, str(user.sub)),
        (user._meta.get_field("locale").verbose_name, user.locale),
        (user._meta.get_field("date_joined").verbose_name, f"{user.date_joined:%Y-%m-%d %H:%M}"),
        (user._meta.get_field("is_active").verbose_name, "✓" if user.is_active else "✗"),
    ]
    emails = [
        {"email": m("email", e.email), "verified": e.verified, "primary": e.primary}
        for e in EmailAddress.objects.filter(user=user).order_by("-primary", "pk")
    ]
    social = [
        {"provider": s.provider, "uid": m("text", s.uid), "date_joined": s.date_joined, "last_login": s.last_login}
        for s in SocialAccount.objects.filter(user=user).order_by("pk")
    ]
    sessions = [
        {
            "created": s.created,
            "last_seen": s.last_seen,
            "ip": m("ip", s.ip),
            "location": m("text", s.location),
            "user_agent": s.user_agent,
            "amr": s.amr,
        }
        for s in UserSession.objects.filter(user=user, ended_at__isnull=True).order_by("-last_seen")[:rows]
    ]
    devices = [
        {"first_seen": d.first_seen, "last_seen": d.last_seen, "user_agent": d.user_agent}
        for d in KnownDevice.objects.filter(user=user).order_by("-last_seen")[:rows]
    ]

    uses: dict[int, ClientUse] = {}
    for a in ClientAuthorization.objects.filter(user=user).values("client_id", "updated", "revoked_at"):
        use = uses.setdefault(a["client_id"], ClientUse(a["client_id"]))
        use.authorized = max(filter(None, (use.authorized, a["updated"])), default=None)
        use.revoked = a["revoked_at"] is not None
    for row in CodeIssuance.objects.filter(user=user).values("client_id").annotate(last=Max("created")):
        uses.setdefault(row["client_id"], ClientUse(row["client_id"])).last_code = row["last"]
    for model in (get_access_token_model(), get_refresh_token_model()):
        for row in (
            model.objects.filter(user=user, application__isnull=False)
            .values("application_id")
            .annotate(last=Max("created"))
        ):
            use = uses.setdefault(row["application_id"], ClientUse(row["application_id"]))
            use.last_token = max(filter(None, (use.last_token, row["last"])), default=None)
    names = dict(Client.objects.filter(pk__in=uses).values_list("pk", "name"))
    for use in uses.values():
        use.name = names.get(use.client_id, "")
    clients = sorted(uses.values(), key=lambda u: u.last_used or user.date_joined, reverse=True)

    consents = [
        {"purpose": s.purpose.code, "granted": s.granted, "since": s.since}
        for s in ConsentState.objects.filter(user=user).select_related("purpose").order_by("purpose__code")
    ]
    consent_changes = [
        {"created": r.created, "purpose": r.purpose.code, "granted": r.granted, "channel": r.channel}
        for r in ConsentRecord.objects.filter(user=user).select_related("purpose").order_by("-created", "-id")[:rows]
    ]
    legal = [
        {"document": str(a.version), "accepted_at": a.accepted_at, "channel": a.channel, "language": a.language}
        for a in LegalAcceptance.objects.filter(user=user)
        .select_related("version__document")
        .order_by("-accepted_at", "-id")[:rows]
    ]
    memberships = [
        {
            "pk": ms.pk,
            "program": ms.program.name,
            "number": ms.member_number,
            "tier": ms.tier.name if ms.tier else "",
            "balance": ms.balance,
            "debt": ms.debt,
            "status": ms.get_status_display(),
        }
        for ms in Membership.objects.filter(user=user).select_related("program", "tier").order_by("pk")
    ]
    ledger = [
        {
            "created": e.created,
            "number": e.membership.member_number,
            "kind": e.get_kind_display(),
            "points": e.points,
            "balance_after": e.balance_after,
            "reference": e.reference,
        }
        for e in LedgerEntry.objects.filter(membership__user=user)
        .select_related("membership")
        .order_by("-created", "-id")[:rows]
    ]

    def named(rows_: list[dict]) -> list[dict]:  # members name their devices ("Hanako's laptop")
        return [{**r, "name": m("name", r["name"])} for r in rows_]

    mfa = {
        "totp": named(
            list(TOTPDevice.objects.filter(user=user, confirmed=True).values("name", "created_at", "last_used_at"))
        ),
        "email": [
            {**d, "email": m("email", d["email"]), "name": m("name", d["name"])}
            for d in EmailDevice.objects.filter(user=user, confirmed=True).values("name", "email", "last_used_at")
        ],
        "passkeys": named(
            list(WebAuthnCredential.objects.filter(user=user).order_by("pk").values("name", "created", "last_used_at"))
        ),
        "recovery_codes_left": RecoveryCode.objects.filter(user=user, used_at__isnull=True).count(),
    }
    events = [
        {"created": e.created, "kind": e.get_kind_display(), "ip": m("ip", e.ip), "user_agent": e.user_agent}
        for e in SecurityEvent.objects.filter(user=user).order_by("-created", "-id")[:rows]
    ]
    return CustomerOverview(
        user=user,
        masked=masked,
        identity=identity,
        emails=emails,
        social_accounts=social,
        sessions=sessions,
        devices=devices,
        clients=clients,
        consents=consents,
        consent_changes=consent_changes,
        legal=legal,
        memberships=memberships,
        ledger=ledger,
        mfa=mfa,
        security_events=events,
    )


# --- the audit log for a SIEM ------------------------------------------------------------------------


def audit_row(entry: AuditEntry) -> dict:
    return {
        "id": entry.pk,
        "time": entry.created.isoformat(),
        "action": entry.action,
        "name": entry.name,
        "actor_id": entry.actor_id,
        "actor_ip": entry.actor_ip,
        "actor_user_agent": entry.actor_user_agent,
        "target_type": f"{entry.target_type.app_label}.{entry.target_type.model}" if entry.target_type_id else None,
        "target_id": entry.object_id or None,
        "member_id": entry.member_id,
        "reason": entry.reason,
        "fields": entry.fields,
        "details": entry.details,
    }


def audit_jsonl(queryset) -> Iterator[str]:
    """One JSON object per line, oldest first, read in chunks (a SIEM's import format)."""
    for entry in queryset.select_related("target_type").order_by("created", "id").iterator(chunk_size=2000):
        yield json.dumps(audit_row(entry), ensure_ascii=False, sort_keys=True) + "\n"
