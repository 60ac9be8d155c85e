"""Reads of purposes and consents for pages, the API, the claim and audience exports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, Max, OuterRef, QuerySet
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from consent.models import ConsentRecord, ConsentState, Purpose, PurposeText
from idp.api import DomainError

Channel = ConsentRecord.Channel
ContactChannel = Purpose.ContactChannel


# --- purposes and their texts -----------------------------------------------------------------------


def language_candidates(language: str | None) -> list[str]:
    """Preferred text languages: the language, its base language, the site default."""
    out: list[str] = []
    for code in (language, (language or "").split("-")[0], settings.LANGUAGE_CODE):
        code = (code or "").lower()
        if code and code not in out:
            out.append(code)
    return out


def texts_for(purposes: Iterable[Purpose], *, language: str | None = None) -> dict[int, PurposeText]:
    """The current text of each purpose in the best available language (latest version)."""
    ids = [p.pk for p in purposes]
    preferred = language_candidates(language or get_language())
    best: dict[int, tuple[tuple[int, int], PurposeText]] = {}
    for text in PurposeText.objects.filter(purpose_id__in=ids):
        lang = text.language.lower()
        rank = preferred.index(lang) if lang in preferred else len(preferred)
        key = (-rank, text.version)
        if text.purpose_id not in best or key > best[text.purpose_id][0]:
            best[text.purpose_id] = (key, text)
    return {pid: text for pid, (_key, text) in best.items()}


def purpose_text(purpose: Purpose, *, language: str | None = None) -> PurposeText | None:
    return texts_for([purpose], language=language).get(purpose.pk)


def member_region(user) -> str | None:
    """The member's country from their address (OIDC ``address.country``), if they gave one."""
    address = getattr(user, "address", None) or {}
    country = address.get("country") if isinstance(address, dict) else None
    return country.strip().upper() if isinstance(country, str) and country.strip() else None


def purposes_offered(*, user=None, brand: str | None = None, region: str | None = None) -> list[Purpose]:
    """Purposes to show a member: active ones for the brand and region, plus every purpose the
    member has currently granted (a retired or out-of-region grant must stay withdrawable)."""
    if region is None and user is not None:
        region = member_region(user)
    granted_ids: set[int] = set()
    if user is not None:
        granted_ids = set(ConsentState.objects.filter(user=user, granted=True).values_list("purpose_id", flat=True))
    return [
        p
        for p in Purpose.objects.all()
        if p.pk in granted_ids or (p.is_active and p.applies_to(brand=brand, region=region))
    ]


def purposes_at_signup() -> list[Purpose]:
    return list(Purpose.objects.filter(is_active=True, offer_at_signup=True))


# --- a member's consents ------------------------------------------------------------------------------


def consent_states(*, user) -> dict[int, ConsentState]:
    """Current state per purpose id (purposes never touched are absent: off by default)."""
    return {s.purpose_id: s for s in ConsentState.objects.filter(user=user)}


def granted_codes(*, user) -> list[str]:
    """Codes of the active purposes the member has currently granted, sorted (the ``consents`` claim)."""
    return sorted(
        ConsentState.objects.filter(user=user, granted=True, purpose__is_active=True).values_list(
            "purpose__code", flat=True
        )
    )


def consents_derived(*, user) -> dict[int, bool]:
    """The current state folded from the records alone: the latest record per purpose wins."""
    state: dict[int, bool] = {}
    for purpose_id, granted in (
        ConsentRecord.objects.filter(user=user).order_by("id").values_list("purpose_id", "granted")
    ):
        state[purpose_id] = granted
    return state


def consent_state_mismatches(
    *, user_ids: Iterable[int] | None = None
) -> list[tuple[int, int, bool | None, bool | None]]:
    """(user id, purpose id, derived, stored) wherever the current table differs from the records.

    Empty when the ``ConsentState`` table equals the derivation; run it offline (or per batch of
    user ids) to prove that the fast table can be trusted.
    """
    records = ConsentRecord.objects.filter(user__isnull=False)
    states = ConsentState.objects.all()
    if user_ids is not None:
        user_ids = list(user_ids)
        records = records.filter(user_id__in=user_ids)
        states = states.filter(user_id__in=user_ids)
    latest = {
        (u, p): last
        for u, p, last in records.values("user_id", "purpose_id")
        .annotate(last=Max("id"))
        .values_list("user_id", "purpose_id", "last")
    }
    granted_of = dict(ConsentRecord.objects.filter(id__in=list(latest.values())).values_list("id", "granted"))
    derived = {key: granted_of[last] for key, last in latest.items()}
    stored = {(u, p): (g, r) for u, p, g, r in states.values_list("user_id", "purpose_id", "granted", "record_id")}
    mismatches = []
    for key in sorted(set(derived) | set(stored)):
        want = derived.get(key)
        have = stored.get(key)
        if have is None or want is None or have[0] != want or have[1] != latest.get(key):
            mismatches.append((key[0], key[1], want, have[0] if have else None))
    return mismatches


def consent_history(*, user) -> QuerySet[ConsentRecord]:
    """Every record of the member, newest first."""
    return ConsentRecord.objects.filter(user=user).select_related("purpose", "text").order_by("-id")


def client_names(client_ids: Iterable[str]) -> dict[str, str]:
    from idp.models import Client

    ids = {c for c in client_ids if c}
    return dict(Client.objects.filter(client_id__in=ids).values_list("client_id", "name")) if ids else {}


# --- audiences ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AudienceMember:
    user_id: int
    sub: str
    email: str | None
    phone_number: str | None
    locale: str
    granted_at: datetime

    def as_dict(self) -> dict:
        row = {"sub": self.sub}
        if self.email is not None:
            row["email"] = self.email
        if self.phone_number is not None:
            row["phone_number"] = self.phone_number
        row["locale"] = self.locale
        row["granted_at"] = self.granted_at.isoformat()
        return row


def audience_purpose(*, code: str, channel: str | None) -> tuple[Purpose, str]:
    """Resolve an audience request to (purpose, contact channel), or a :class:`DomainError`.

    A purpose about one contact channel (marketing by email) is only exported for that channel;
    a purpose without one (sharing with partners) may name any channel to get its contact point.
    """
    purpose = Purpose.objects.filter(code=code).first() if isinstance(code, str) else None
    if purpose is None:
        raise DomainError(code="unknown_purpose", title=_("There is no such purpose."), status=404, purpose=code)
    if not purpose.is_active:
        raise DomainError(code="purpose_retired", title=_("This purpose is retired."), status=409, purpose=code)
    channel = channel or ""
    if channel not in ContactChannel.values:
        raise DomainError(code="invalid_channel", title=_("Unknown contact channel."), channel=channel)
    if purpose.contact_channel and channel and channel != purpose.contact_channel:
        raise DomainError(
            code="channel_mismatch",
            title=_("Members agreed to this purpose for another channel."),
            status=409,
            purpose=code,
            channel=channel,
        )
    return purpose, channel or purpose.contact_channel


def audience_queryset(*, purpose: Purpose, channel: str, after: int = 0) -> QuerySet[ConsentState]:
    """Active members who currently grant ``purpose`` and can be reached on ``channel``, with a user
    id above ``after``, in user order.

    Email needs a verified primary address, SMS and phone a verified number; push has no contact
    point here (the app maps ``sub`` to its devices). Every condition is a semi-join bounded by
    ``after`` itself, so a page deep into tens of millions of members reads only its own range
    (PostgreSQL does not carry a range across a join by itself).
    """
    users = get_user_model().objects.filter(pk=OuterRef("user_id"), pk__gt=after, is_active=True)
    if channel in (ContactChannel.SMS, ContactChannel.PHONE):
        users = users.filter(phone_number_verified=True).exclude(phone_number="")
    qs = ConsentState.objects.filter(purpose=purpose, granted=True, user_id__gt=after).filter(Exists(users))
    if channel == ContactChannel.EMAIL:
        qs = qs.filter(
            Exists(
                EmailAddress.objects.filter(user_id=OuterRef("user_id"), user_id__gt=after, verified=True, primary=True)
            )
        )
    return qs.order_by("user_id")


def audience_page(
    *, purpose: Purpose, channel: str, after: int = 0, limit: int
) -> tuple[list[AudienceMember], int | None]:
    """One page of the audience (keyset pagination on the user id): the members with a user id
    above ``after``, and the ``after`` of the next page (``None`` on the last page)."""
    states = list(
        audience_queryset(purpose=purpose, channel=channel, after=after).values_list("user_id", "since")[: limit + 1]
    )
    next_after = states[limit - 1][0] if len(states) > limit else None
    states = states[:limit]
    users = {
        pk: rest
        for pk, *rest in get_user_model()
        .objects.filter(pk__in=[user_id for user_id, _since in states])
        .values_list("pk", "sub", "email", "phone_number", "locale")
    }
    with_email = channel == ContactChannel.EMAIL
    with_phone = channel in (ContactChannel.SMS, ContactChannel.PHONE)
    page = []
    for user_id, since in states:
        if user_id not in users:  # deleted between the two reads
            continue
        sub, email, phone, locale = users[user_id]
        page.append(
            AudienceMember(
                user_id=user_id,
                sub=str(sub),
                email=email if with_email else None,
                phone_number=phone if with_phone else None,
                locale=locale or "",
                granted_at=since,
            )
        )
    return page, next_after


def audience_iter(*, purpose: Purpose, channel: str, batch: int = 2000):
    """Every member of the audience, fetched page by page (for the staff CSV)."""
    after: int | None = 0
    while after is not None:
        page, after = audience_page(purpose=purpose, channel=channel, after=after, limit=batch)
        yield from page


def granted_counts(*, end) -> dict[str, int]:
    """For the staff dashboard: members whose current consent to each purpose is a grant made
    before ``end``, by purpose code (every purpose listed, 0 included). Aggregates only."""
    from django.db.models import Count

    counts = dict.fromkeys(Purpose.objects.order_by("position", "code").values_list("code", flat=True), 0)
    rows = (
        ConsentState.objects.filter(granted=True, since__lt=end)
        .values("purpose__code")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[row["purpose__code"]] = row["n"]
    return counts
