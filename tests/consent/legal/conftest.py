"""Fixtures for legal documents: publish versions the way staff do (through the service)."""

from __future__ import annotations

import pytest

from consent.legal import services
from consent.models import LegalDocument, LegalDocumentText, LegalDocumentVersion

# The back-channel logout endpoint and in-process tasks of the account-protection tests.
from tests.accounts.security.conftest import eager_tasks, rp_endpoint  # noqa: F401

TEXTS = {
    "terms": {"en": "Terms of use", "ja": "利用規約"},
    "privacy": {"en": "Privacy policy", "ja": "プライバシーポリシー"},
}


def publish(slug: str, version: str, *, material: bool = False, languages=("en", "ja"), by=None, summary=""):
    """Create and publish ``version`` of document ``slug`` with a text per language."""
    document, _ = LegalDocument.objects.get_or_create(slug=slug, defaults={"name": TEXTS[slug]["en"]})
    draft = LegalDocumentVersion.objects.create(document=document, version=version, material=material)
    for language in languages:
        LegalDocumentText.objects.create(
            version=draft,
            language=language,
            title=TEXTS[slug][language],
            summary=summary,
            body=f"{TEXTS[slug][language]} {version} ({language}).\n\nSecond paragraph.",
        )
    return services.legal_version_publish(version=draft, by=by)


@pytest.fixture
def documents(db):
    """Terms and privacy policy, version 1 each (first versions: material)."""
    return {"terms": publish("terms", "1"), "privacy": publish("privacy", "1")}


def accept_all(user, *, channel: str = "signup"):
    from consent.legal import selectors

    return services.legal_accept(user=user, versions=selectors.current_versions(), language="en", channel=channel)


@pytest.fixture
def accepted_member(member, documents):
    """The member, having accepted the current terms and privacy policy."""
    accept_all(member)
    return member
