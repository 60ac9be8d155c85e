"""Every change of a member's consent goes through :func:`consent_change` (sign-up, privacy page,
API, customer service). Purposes and their texts are changed by staff through the admin, which
calls :func:`purpose_save` and :func:`purpose_text_add`. Erasure calls :func:`consent_records_erase`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from consent.models import ConsentRecord, ConsentState, Purpose, PurposeText
from consent.outbox.services import outbox_event_add
from consent.purposes import selectors
from idp.api import DomainError
from idp.services import audit_record

Channel = ConsentRecord.Channel
MAX_CHANGES = 100


def consent_event_payload(*, user, records: list[ConsentRecord]) -> dict:
    """What a ``consent.changed`` event says: the member by ``sub`` only (no contact data), each
    change with its evidence, and the purposes granted after it."""
    return {
        "sub": str(user.sub),
        "changes": [
            {
                "id": str(r.uuid),
                "purpose": r.purpose.code,
                "granted": r.granted,
                "at": r.created.isoformat(),
                "channel": r.channel,
                "client_id": r.client_id or None,
                "language": r.language or None,
                "text_version": r.text.version if r.text_id else None,
            }
            for r in records
        ],
        "consents": selectors.granted_codes(user=user),
    }


@transaction.atomic
def consent_change(
    *,
    user,
    changes: Mapping[str, bool],
    channel: str,
    client=None,
    request: HttpRequest | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    language: str | None = None,
    actor=None,
    note: str = "",
    now: datetime | None = None,
) -> list[ConsentRecord]:
    """Set the member's consent for each purpose code in ``changes`` (``True`` grants, ``False``
    withdraws) and return the records added.

    Idempotent: a purpose already in the asked state gets no record. All or nothing: an unknown
    purpose, a non-boolean value or granting a retired purpose refuses the whole call with a
    :class:`DomainError`. Evidence (time, channel, client, IP, device, the text shown in the
    member's language) is taken from the arguments, or from ``request`` where not given.
    """
    if channel not in Channel.values:
        raise DomainError(code="invalid_channel", title=_("Unknown channel."), channel=str(channel)[:32])
    if len(changes) > MAX_CHANGES:
        raise DomainError(code="too_many_changes", title=_("Too many purposes in one request."))
    for code, granted in changes.items():
        if not isinstance(granted, bool):
            raise DomainError(code="invalid_value", title=_("A consent must be true or false."), purpose=str(code)[:64])
    purposes = {p.code: p for p in Purpose.objects.filter(code__in=[c for c in changes if isinstance(c, str)])}
    unknown = sorted(str(c)[:64] for c in changes if c not in purposes)
    if unknown:
        raise DomainError(code="unknown_purpose", title=_("There is no such purpose."), purposes=unknown)
    retired = sorted(code for code, granted in changes.items() if granted and not purposes[code].is_active)
    if retired:
        raise DomainError(
            code="purpose_retired", title=_("This purpose can no longer be granted."), status=409, purposes=retired
        )

    # One writer per member at a time: concurrent changes queue here, so each sees the state the
    # previous one left and "already in that state" stays exact.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()

    if request is not None:
        from accounts.security import geo

        ip = ip if ip is not None else geo.client_ip(request)
        user_agent = user_agent if user_agent is not None else geo.user_agent(request)
        language = language or getattr(request, "LANGUAGE_CODE", None)
    language = language or translation.get_language() or ""
    now = now or timezone.now()
    states = {s.purpose_id: s for s in ConsentState.objects.filter(user=user, purpose__in=purposes.values())}
    texts = selectors.texts_for(purposes.values(), language=language)

    records: list[ConsentRecord] = []
    for code in sorted(changes):
        purpose, granted = purposes[code], changes[code]
        state = states.get(purpose.pk)
        if (state.granted if state else False) == granted:
            continue
        text = texts.get(purpose.pk)
        record = ConsentRecord.objects.create(
            user=user,
            purpose=purpose,
            granted=granted,
            created=now,
            channel=channel,
            client_id=getattr(client, "client_id", "") or "",
            text=text,
            language=text.language if text else language[:16],
            ip=ip or None,
            user_agent=(user_agent or "")[:300],
            actor=actor,
            note=(note or "")[:200],
        )
        if state is None:
            ConsentState.objects.create(user=user, purpose=purpose, granted=granted, since=now, record=record)
        else:
            state.granted, state.since, state.record = granted, now, record
            state.save(update_fields=["granted", "since", "record"])
        records.append(record)

    if records:
        payload = consent_event_payload(user=user, records=records)
        audit_record(
            kind="consent.changed",
            user=user,
            client=client if getattr(client, "pk", None) else None,
            data={**payload, "actor": actor.pk if actor else None},
        )
        # Subscribed marketing and CRM systems hear of it; written in this transaction (outbox).
        outbox_event_add(kind="consent.changed", payload=payload, user=user, now=now)
    return records


@transaction.atomic
def consent_records_erase(*, user, keep_evidence: bool = True) -> int:
    """Erasure of a member: drop their current state and forget them in their records.

    With ``keep_evidence`` the records stay, pseudonymised (no member link, IP or device), as
    anonymous proof of what was agreed when; otherwise they are then deleted. Records where the
    member acted as staff lose the link to them. Returns the number of the member's records.
    Deleting the user row does the same pseudonymisation by itself (``forget_member``).
    """
    ConsentState.objects.filter(user=user).delete()
    ConsentRecord.objects.filter(actor=user).update(actor=None)
    ids = list(ConsentRecord.objects.filter(user=user).values_list("id", flat=True))
    ConsentRecord.objects.filter(id__in=ids).update(user=None, ip=None, user_agent="")
    if not keep_evidence:
        ConsentRecord.objects.filter(id__in=ids, user__isnull=True).delete()
    audit_record(kind="consent.records_erased", data={"records": len(ids), "kept": keep_evidence})
    return len(ids)


@transaction.atomic
def purpose_save(*, purpose: Purpose, actor=None) -> Purpose:
    """Create or update a purpose (its code is fixed once created)."""
    created = purpose.pk is None
    if not created:
        original = Purpose.objects.select_for_update().get(pk=purpose.pk)
        if original.code != purpose.code:
            raise DomainError(code="purpose_code_fixed", title=_("A purpose's code cannot be changed."))
    purpose.full_clean()
    purpose.save()
    audit_record(
        kind="consent.purpose_created" if created else "consent.purpose_changed",
        user=actor,
        data={
            "purpose": purpose.code,
            "active": purpose.is_active,
            "contact_channel": purpose.contact_channel,
            "brand": purpose.brand,
            "regions": purpose.regions,
        },
    )
    return purpose


@transaction.atomic
def purpose_text_add(*, purpose: Purpose, language: str, name: str, description: str, actor=None) -> PurposeText:
    """Publish a new version of a purpose's text in one language (older versions stay as evidence)."""
    Purpose.objects.select_for_update().filter(pk=purpose.pk).first()
    latest = PurposeText.objects.filter(purpose=purpose, language=language).aggregate(v=Max("version"))["v"] or 0
    text = PurposeText(purpose=purpose, language=language, version=latest + 1, name=name, description=description)
    text.full_clean()
    text.save()
    audit_record(
        kind="consent.purpose_text_added",
        user=actor,
        data={"purpose": purpose.code, "language": language, "version": text.version},
    )
    return text


def audience_export_record(*, purpose: Purpose, channel: str, user=None, client=None, rows: int | None = None):
    """Who took which audience, when: staff (``user``) from the admin or a service ``client``."""
    return audit_record(
        kind="consent.audience_exported",
        user=user,
        client=client,
        data={"purpose": purpose.code, "channel": channel, "rows": rows, "by": "staff" if user else "api"},
    )
