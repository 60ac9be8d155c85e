"""Reads about legal documents: what is current, what a member still has to accept, what they accepted."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from django.urls import Resolver404, resolve

from consent.models import LegalAcceptance, LegalDocumentText, LegalDocumentVersion

STATE_CACHE_KEY = "consent:legal:published-state:v1"
STATE_CACHE_SECONDS = 300


@dataclass(frozen=True)
class DocumentState:
    """The published versions of one document that matter for re-consent."""

    document_id: int
    slug: str
    current_id: int  # the latest published version: what members are shown and accept
    required_id: int  # the latest material version: members must have accepted it or a later one
    acceptable_ids: tuple[int, ...]  # the required version and every version published after it


def _published_versions() -> QuerySet[LegalDocumentVersion]:
    return LegalDocumentVersion.objects.filter(published_at__isnull=False).order_by("document_id", "published_at", "id")


def published_state() -> list[DocumentState]:
    """One entry per document with a published version; cached (every /authorize reads it)."""
    state = cache.get(STATE_CACHE_KEY)
    if state is not None:
        return state
    by_document: dict[int, list[tuple[int, bool, str]]] = {}
    for vid, doc_id, material, slug in _published_versions().values_list(
        "id", "document_id", "material", "document__slug"
    ):
        by_document.setdefault(doc_id, []).append((vid, material, slug))
    state = []
    for doc_id, versions in by_document.items():
        required_index = max((i for i, (_vid, material, _slug) in enumerate(versions) if material), default=0)
        state.append(
            DocumentState(
                document_id=doc_id,
                slug=versions[0][2],
                current_id=versions[-1][0],
                required_id=versions[required_index][0],
                acceptable_ids=tuple(vid for vid, _m, _s in versions[required_index:]),
            )
        )
    state.sort(key=lambda s: s.slug)
    cache.set(STATE_CACHE_KEY, state, STATE_CACHE_SECONDS)
    return state


def forget_published_state() -> None:
    cache.delete(STATE_CACHE_KEY)


def pending_version_ids(user) -> list[int]:
    """Current versions ``user`` must accept: of each document whose latest material version
    (or a later one) they have not accepted. One indexed query, none when nothing is published."""
    state = published_state()
    if not state:
        return []
    acceptable = [vid for doc in state for vid in doc.acceptable_ids]
    accepted = set(
        LegalAcceptance.objects.filter(user=user, version_id__in=acceptable).values_list("version_id", flat=True)
    )
    return [doc.current_id for doc in state if not accepted.intersection(doc.acceptable_ids)]


def pending_versions(user) -> list[LegalDocumentVersion]:
    ids = pending_version_ids(user)
    if not ids:
        return []
    versions = {v.id: v for v in LegalDocumentVersion.objects.filter(id__in=ids).select_related("document")}
    return [versions[i] for i in ids if i in versions]


def current_versions() -> list[LegalDocumentVersion]:
    """The latest published version of every document (what sign-up accepts)."""
    ids = [doc.current_id for doc in published_state()]
    if not ids:
        return []
    return list(LegalDocumentVersion.objects.filter(id__in=ids).select_related("document").order_by("document__slug"))


def current_version(slug: str) -> LegalDocumentVersion | None:
    return (
        LegalDocumentVersion.objects.filter(document__slug=slug, published_at__isnull=False)
        .select_related("document")
        .order_by("-published_at", "-id")
        .first()
    )


def published_version(slug: str, version: str) -> LegalDocumentVersion | None:
    return (
        LegalDocumentVersion.objects.filter(document__slug=slug, version=version, published_at__isnull=False)
        .select_related("document")
        .first()
    )


def text_for(version: LegalDocumentVersion, language: str | None) -> LegalDocumentText | None:
    """The text in ``language``, else in the default language (English), else in any language."""
    texts = {t.language: t for t in version.texts.all()}
    for code in (language or "", (language or "").split("-")[0], settings.LANGUAGE_CODE):
        if code in texts:
            return texts[code]
    return next(iter(sorted(texts.items())), (None, None))[1]


def acceptances_for(*, user) -> QuerySet[LegalAcceptance]:
    return LegalAcceptance.objects.filter(user=user).select_related("version__document", "client")


def client_from_next(url: str | None):
    """The client of an ``/authorize`` URL or of a device confirmation page (where a login or an
    interstitial returns to), else None."""
    from idp.models import Client

    if not url:
        return None
    parts = urlsplit(url)
    try:
        match = resolve(parts.path)
    except Resolver404:
        return None
    if match.view_name == "oauth2_provider:authorize":
        client_id = parse_qs(parts.query).get("client_id", [""])[0]
    elif match.view_name == "oauth2_provider:device-confirm":
        client_id = match.kwargs["client_id"]
    else:
        return None
    if not client_id or len(client_id) > 100:
        return None
    return Client.objects.filter(client_id=client_id).first()
