"""Staff publish versions in the admin; published versions are immutable; each publication is audited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from consent.legal import selectors, services
from consent.models import LegalAcceptance, LegalDocument, LegalDocumentText, LegalDocumentVersion
from idp.models import AuditEvent
from tests.accounts.mfa.conftest import force_login_with_mfa
from tests.conftest import login
from tests.consent.legal.conftest import accept_all, publish

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/consent/legaldocumentversion/"


def _draft(slug="terms", version="2", material=True, languages=("en", "ja")) -> LegalDocumentVersion:
    document, _ = LegalDocument.objects.get_or_create(slug=slug, defaults={"name": slug.title()})
    draft = LegalDocumentVersion.objects.create(document=document, version=version, material=material)
    for language in languages:
        LegalDocumentText.objects.create(version=draft, language=language, title=f"T {language}", body="Body")
    return draft


def _staff(django_user_model, *perms: str):
    user = django_user_model.objects.create_user(email="legal-staff@example.com", password="x" * 20, is_staff=True)
    codenames = ["view_legaldocumentversion", "change_legaldocumentversion", "add_legaldocumentversion", *perms]
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="consent", codename__in=codenames))
    return user


def test_staff_drafts_a_version_with_texts_in_the_admin(client, admin_user):
    document = LegalDocument.objects.create(slug="terms", name="Terms of use")
    force_login_with_mfa(client, admin_user)
    resp = client.post(
        CHANGELIST + "add/",
        {
            "document": document.pk,
            "version": "2025-06",
            "material": "on",
            "texts-TOTAL_FORMS": "2",
            "texts-INITIAL_FORMS": "0",
            "texts-0-language": "en",
            "texts-0-title": "Terms of use",
            "texts-0-summary": "Points now expire after two years.",
            "texts-0-body": "Full text.",
            "texts-1-language": "ja",
            "texts-1-title": "利用規約",
            "texts-1-body": "全文。",
        },
    )
    assert resp.status_code == 302, resp.context["adminform"].form.errors if resp.context else resp
    draft = LegalDocumentVersion.objects.get(version="2025-06")
    assert draft.published_at is None and draft.created_by == admin_user and draft.texts.count() == 2
    assert selectors.current_version("terms") is None  # a draft is not shown to anyone


def test_publish_action_publishes_and_audits(client, django_user_model, accepted_member):
    staff = _staff(django_user_model, "publish_legaldocumentversion")
    draft = _draft()
    force_login_with_mfa(client, staff)

    resp = client.post(CHANGELIST, {"action": "publish", "_selected_action": [draft.pk]}, follow=True)

    assert resp.status_code == 200
    draft.refresh_from_db()
    assert draft.published_at is not None and draft.published_by == staff
    event = AuditEvent.objects.get(kind="legal.version_published", data__version_id=draft.pk)
    assert event.user == staff
    assert event.data == {
        "document": "terms",
        "version": "2",
        "version_id": draft.pk,
        "material": True,
        "languages": ["en", "ja"],
    }
    assert selectors.pending_version_ids(accepted_member) == [draft.pk]


def test_publishing_needs_the_publish_permission(client, django_user_model):
    staff = _staff(django_user_model)  # may edit drafts, may not publish
    draft = _draft()
    force_login_with_mfa(client, staff)

    page = client.get(CHANGELIST)
    action_form = page.context["action_form"]
    assert action_form is None or "publish" not in dict(action_form.fields["action"].choices)
    client.post(CHANGELIST, {"action": "publish", "_selected_action": [draft.pk]})

    draft.refresh_from_db()
    assert draft.published_at is None
    assert not AuditEvent.objects.filter(kind="legal.version_published").exists()


def test_published_version_is_read_only_in_the_admin(client, admin_user, documents):
    version = documents["terms"]
    force_login_with_mfa(client, admin_user)
    url = f"{CHANGELIST}{version.pk}/change/"

    page = client.get(url)
    assert page.status_code == 200 and page.context["has_change_permission"] is False
    client.post(url, {"document": version.document_id, "version": "forged", "material": ""})
    assert client.post(f"{CHANGELIST}{version.pk}/delete/", {"post": "yes"}).status_code == 403

    version.refresh_from_db()
    assert version.version == "1" and version.material is True
    assert LegalDocumentVersion.objects.filter(pk=version.pk).exists()


def test_publication_needs_an_english_text_and_happens_once(admin_user):
    only_ja = _draft(version="ja-only", languages=("ja",))
    with pytest.raises(services.LegalError) as error:
        services.legal_version_publish(version=only_ja, by=admin_user)
    assert error.value.code == "legal_text_missing"
    only_ja.refresh_from_db()
    assert only_ja.published_at is None

    draft = _draft(version="3")
    services.legal_version_publish(version=draft, by=admin_user)
    with pytest.raises(services.LegalError) as error:
        services.legal_version_publish(version=draft, by=admin_user)
    assert error.value.code == "legal_already_published"
    assert AuditEvent.objects.filter(kind="legal.version_published").count() == 1


def test_admin_action_reports_a_version_it_cannot_publish(client, admin_user):
    only_ja = _draft(version="ja-only", languages=("ja",))
    force_login_with_mfa(client, admin_user)
    resp = client.post(CHANGELIST, {"action": "publish", "_selected_action": [only_ja.pk]}, follow=True)
    messages = [str(m) for m in resp.context["messages"]]
    assert any("default language" in m for m in messages), messages
    only_ja.refresh_from_db()
    assert only_ja.published_at is None


def test_first_version_is_always_material(member):
    version = publish("terms", "1", material=False)
    assert version.material is True
    assert selectors.pending_version_ids(member) == [version.pk]


def test_acceptances_are_read_only_for_staff(client, admin_user, accepted_member):
    row = LegalAcceptance.objects.filter(user=accepted_member).first()
    force_login_with_mfa(client, admin_user)
    listing = client.get("/admin/consent/legalacceptance/")
    assert listing.status_code == 200 and accepted_member.email in listing.content.decode()
    assert client.get(f"/admin/consent/legalacceptance/{row.pk}/change/").context["has_change_permission"] is False
    assert client.get("/admin/consent/legalacceptance/add/").status_code == 403
    assert client.post(f"/admin/consent/legalacceptance/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert LegalAcceptance.objects.filter(pk=row.pk).exists()


def test_non_staff_member_cannot_reach_the_admin(client, member, documents):
    login(client, member)
    resp = client.get(CHANGELIST)
    assert resp.status_code == 302 and "/admin/login/" in resp["Location"]


def test_accepting_twice_keeps_the_first_evidence(member, documents):
    first = accept_all(member, channel="signup")
    again = accept_all(member, channel="sso")
    assert [r.pk for r in first] == [r.pk for r in again]
    assert set(LegalAcceptance.objects.filter(user=member).values_list("channel", flat=True)) == {"signup"}
