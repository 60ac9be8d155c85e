"""State changes of legal documents: publication, acceptance with evidence, refusal."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent.legal import selectors
from consent.models import LegalAcceptance, LegalDocumentVersion
from idp.api import DomainError
from idp.services import audit_record


class LegalError(DomainError):
    code = "legal_invalid"
    title = _("This legal document cannot be used that way.")


@transaction.atomic
def legal_version_publish(*, version: LegalDocumentVersion, by, now: datetime | None = None) -> LegalDocumentVersion:
    """Publish a draft version: from now on it is the document's current version, and immutable.

    The first published version of a document is always material (nobody has accepted the
    document yet). A version needs a text in the default language, the fallback of every other.
    """
    version = LegalDocumentVersion.objects.select_for_update().select_related("document").get(pk=version.pk)
    if version.published_at is not None:
        raise LegalError(code="legal_already_published", title=_("This version is already published."))
    languages = sorted(version.texts.values_list("language", flat=True))
    if settings.LANGUAGE_CODE not in languages:
        raise LegalError(
            code="legal_text_missing",
            title=_("Add the text in the default language before publishing."),
            detail=settings.LANGUAGE_CODE,
        )
    first = not LegalDocumentVersion.objects.filter(document=version.document, published_at__isnull=False).exists()
    version.material = version.material or first
    version.published_at = now or timezone.now()
    version.published_by = by
    version.save(update_fields=["material", "published_at", "published_by"])
    audit_record(
        kind="legal.version_published",
        user=by,
        data={
            "document": version.document.slug,
            "version": version.version,
            "version_id": version.pk,
            "material": version.material,
            "languages": languages,
        },
    )
    # Now for this process, and again once committed (another process may have read the old state).
    selectors.forget_published_state()
    transaction.on_commit(selectors.forget_published_state)
    return version


@transaction.atomic
def legal_accept(
    *,
    user,
    versions: Iterable[LegalDocumentVersion],
    language: str,
    channel: str,
    client=None,
    ip: str | None = None,
    user_agent: str = "",
    now: datetime | None = None,
) -> list[LegalAcceptance]:
    """Record that ``user`` accepted ``versions``, shown in ``language`` (per version: the text's
    language after fallback). Accepting a version twice keeps the first record."""
    versions = list(versions)
    if not versions:
        raise LegalError(code="legal_nothing_to_accept", title=_("There is nothing to accept."))
    if any(v.published_at is None for v in versions):
        raise LegalError(code="legal_not_published", title=_("This version is not published."))
    if channel not in LegalAcceptance.Channel.values:
        raise LegalError(code="legal_bad_channel", detail=channel)
    now = now or timezone.now()
    rows = []
    for version in versions:
        text = selectors.text_for(version, language)
        row, _created = LegalAcceptance.objects.get_or_create(
            user=user,
            version=version,
            defaults={
                "language": text.language if text else language,
                "accepted_at": now,
                "client": client,
                "client_label": client.client_id if client else "",
                "channel": channel,
                "ip": ip,
                "user_agent": (user_agent or "")[:300],
            },
        )
        rows.append(row)
    audit_record(
        kind="legal.accepted",
        user=user,
        client=client,
        data={
            "versions": [{"document": v.document.slug, "version": v.version, "id": v.pk} for v in versions],
            "channel": channel,
            "language": language,
        },
    )
    return rows


def legal_accept_current(
    *, user, language: str, channel: str, client=None, ip: str | None = None, user_agent: str = ""
) -> list[LegalAcceptance]:
    """Accept every document's current version (sign-up); nothing when nothing is published."""
    versions = selectors.current_versions()
    if not versions:
        return []
    return legal_accept(
        user=user,
        versions=versions,
        language=language,
        channel=channel,
        client=client,
        ip=ip,
        user_agent=user_agent,
    )


@transaction.atomic
def legal_decline(*, user, versions: Iterable[LegalDocumentVersion], client=None, request: HttpRequest | None = None):
    """The member refused the current versions. Nothing is accepted; ``client`` (the site or app
    they were signing in to) loses its tokens for the member and, where it listens, is told over
    back-channel logout for this browser's session."""
    versions = list(versions)
    if client is not None:
        from idp.services import client_authorization_revoke

        client_authorization_revoke(user=user, client=client)
        _notify_backchannel(user=user, client=client, request=request)
    audit_record(
        kind="legal.declined",
        user=user,
        client=client,
        data={"versions": [{"document": v.document.slug, "version": v.version, "id": v.pk} for v in versions]},
    )


def _notify_backchannel(*, user, client, request: HttpRequest | None) -> None:
    sid = request.session.get("idp_sid", "") if request is not None else ""
    if not client.backchannel_logout_uri or not sid:
        return
    from accounts.security import backchannel, tasks

    issuer = backchannel.issuer_for(request)
    transaction.on_commit(partial(tasks.deliver_logout_token.delay, client.pk, str(user.sub), sid, issuer), robust=True)
