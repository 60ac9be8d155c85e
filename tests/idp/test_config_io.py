"""Configuration export/import (issue 6): round trip, dry run, bad files, prune, the commands.

The round trip builds a configuration touching every section, exports it, wipes the database's
configuration, imports the file and exports again: the two files are identical but for
``exported_at``.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import check_password
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import AttributeAccess, AttributeChoice, AttributeDefinition
from consent.legal import services as legal_services
from consent.models import LegalDocument, LegalDocumentText, LegalDocumentVersion, Purpose, PurposeText
from consent.purposes import services as purpose_services
from idp import config_io
from idp.models import AuditEvent, Client
from loyalty.models import Program, ProgramClient, Tier
from tests.conftest import make_client

pytestmark = pytest.mark.django_db

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2217bc50000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def build_config() -> None:
    """A configuration with something in every section."""
    shop, _secret = make_client(
        client_id="shop-web",
        name="Shop",
        redirect_uris="https://shop.example/cb https://shop.example/cb2",
        allowed_scopes="openid email profile:preferences",
        brand_color="#aa3300",
        require_mfa=True,
    )
    shop.logo.save("shop.png", ContentFile(PNG), save=True)
    make_client(
        client_id="kiosk",
        name="Kiosk",
        client_type=Client.CLIENT_PUBLIC,
        redirect_uris="https://kiosk.example/cb",
        first_party=False,
    )
    partner, _ = make_client(
        client_id="fuel-partner",
        authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS,
        redirect_uris="",
        post_logout_redirect_uris="",
    )

    diet = AttributeDefinition.objects.create(
        key="diet", data_type="choice", scope="profile:preferences", label_en="Diet", label_ja="食事", position=1
    )
    AttributeChoice.objects.create(definition=diet, value="vegan", label_en="Vegan", position=2)
    AttributeChoice.objects.create(definition=diet, value="halal", label_en="Halal", position=1, retired=True)
    AttributeAccess.objects.create(definition=diet, client=shop, can_read=True, can_write=True, ask_position=1)
    AttributeDefinition.objects.create(
        key="shoe_size",
        data_type="number",
        scope="profile:preferences",
        label_en="Shoe size",
        min_value=Decimal("15.5"),
        max_value=Decimal("50"),
    )

    terms = LegalDocument.objects.create(slug="terms", name="Terms of use")
    now = timezone.now()
    for i, (label, material) in enumerate([("2025-01", True), ("2025-06", False)]):
        version = LegalDocumentVersion.objects.create(document=terms, version=label, material=material)
        LegalDocumentText.objects.create(version=version, language="en", title=f"Terms {label}", body="Be nice.")
        LegalDocumentText.objects.create(version=version, language="ja", title=f"規約 {label}", body="親切に。")
        legal_services.legal_version_publish(version=version, by=None, now=now + timedelta(seconds=i))
    draft = LegalDocumentVersion.objects.create(document=terms, version="2026-01")
    LegalDocumentText.objects.create(version=draft, language="en", title="Terms 2026", summary="New", body="Draft")

    news = purpose_services.purpose_save(
        purpose=Purpose(code="news-email", category="marketing", contact_channel="email", regions="JP DE")
    )
    purpose_services.purpose_text_add(purpose=news, language="en", name="News", description="Old text")
    purpose_services.purpose_text_add(purpose=news, language="en", name="News", description="Our newsletter")
    purpose_services.purpose_text_add(purpose=news, language="ja", name="ニュース", description="メール")

    sky = Program.objects.create(slug="sky", name="Sky Miles", points_expire_after_days=365)
    Tier.objects.create(program=sky, code="blue", name="Blue", min_points=0)
    Tier.objects.create(program=sky, code="gold", name="Gold", min_points=5000)
    ProgramClient.objects.create(program=sky, client=partner)
    ProgramClient.objects.create(program=sky, client=shop, is_active=False)


def wipe() -> None:
    ProgramClient.objects.all().delete()
    Tier.objects.all().delete()
    Program.objects.all().delete()
    AttributeDefinition.objects.all().delete()
    PurposeText.objects.all().delete()
    Purpose.objects.all().delete()
    LegalDocumentText.objects.all().delete()
    LegalDocumentVersion.objects.all().delete()
    LegalDocument.objects.all().delete()
    Client.objects.all().delete()


def export_text() -> str:
    return config_io.dumps(config_io.config_export())


def without_stamp(text: str) -> dict:
    data = json.loads(text)
    data.pop("exported_at")
    return data


def run_import(data: dict, **options) -> config_io.ImportResult:
    return config_io.config_import(copy.deepcopy(data), **options)


def test_export_uses_natural_keys_only_and_no_secrets():
    build_config()
    text = export_text()
    data = json.loads(text)
    assert data["format"] == "ciam-config" and data["version"] == 1 and data["source"]
    assert [c["client_id"] for c in data["clients"]] == ["fuel-partner", "kiosk", "shop-web"]
    assert '"client_secret"' not in text and '"id"' not in text and '"pk"' not in text
    assert Client.objects.get(client_id="shop-web").client_secret not in text
    shop = data["clients"][2]
    assert shop["redirect_uris"] == ["https://shop.example/cb", "https://shop.example/cb2"]
    assert shop["allowed_scopes"] == ["email", "openid", "profile:preferences"]
    assert shop["logo"].startswith("data:image/png;base64,")
    diet = data["profile_attributes"][0]
    assert [c["value"] for c in diet["choices"]] == ["halal", "vegan"]
    assert diet["access"] == [{"client": "shop-web", "can_read": True, "can_write": True, "ask_position": 1}]
    assert data["profile_attributes"][1]["min_value"] == "15.5" and data["profile_attributes"][1]["max_value"] == "50"
    terms = data["legal_documents"][0]
    assert [(v["version"], v["published"]) for v in terms["versions"]] == [
        ("2025-01", True),
        ("2025-06", True),
        ("2026-01", False),
    ]
    assert data["purposes"][0]["texts"]["en"] == {"name": "News", "description": "Our newsletter"}
    assert data["programs"][0]["clients"] == [
        {"client": "fuel-partner", "is_active": True},
        {"client": "shop-web", "is_active": False},
    ]
    assert {"name": "loyalty:earn", "description": "Credit loyalty points to members (partners)"} in data["scopes"]
    # Deterministic: sorted keys, pretty, the same twice.
    assert text == config_io.dumps(json.loads(text)) and text.startswith("{\n  ")
    assert without_stamp(text) == without_stamp(export_text())


def test_round_trip_export_wipe_import_export_gives_the_same_file():
    build_config()
    first = export_text()
    wipe()
    assert export_text() != first

    result = run_import(json.loads(first))
    assert result.ok, result.errors
    assert result.applied and result.counts()["create"] == 8
    second = export_text()
    assert without_stamp(second) == without_stamp(first)

    # The legal versions were published through the service (audited, in the file's order).
    published = AuditEvent.objects.filter(kind="legal.version_published").order_by("id")
    assert [e.data["version"] for e in published][-2:] == ["2025-01", "2025-06"]
    assert LegalDocumentVersion.objects.get(version="2026-01").published_at is None
    # A confidential client created by the import has a fresh secret, shown once, that works.
    assert sorted(result.secrets) == ["fuel-partner", "shop-web"]
    shop = Client.objects.get(client_id="shop-web")
    assert check_password(result.secrets["shop-web"], shop.client_secret)
    assert shop.logo.read() == PNG
    imported = AuditEvent.objects.filter(kind="config.imported").get()
    assert imported.data["counts"]["create"] == 8 and imported.data["prune"] is False


def test_importing_the_same_file_twice_changes_nothing_the_second_time():
    build_config()
    data = json.loads(export_text())
    secret_before = Client.objects.get(client_id="shop-web").client_secret
    result = run_import(data)
    assert result.ok and result.applied
    assert {c.action for c in result.changes} == {"unchanged"}, result.plan_lines()
    assert result.secrets == {}
    assert Client.objects.get(client_id="shop-web").client_secret == secret_before
    assert PurposeText.objects.count() == 3


def test_an_update_shows_field_level_differences_and_keeps_the_client_secret():
    build_config()
    data = json.loads(export_text())
    secret_before = Client.objects.get(client_id="shop-web").client_secret
    data["clients"][2]["brand_color"] = "#112233"
    data["clients"][2]["redirect_uris"].append("https://shop.example/cb3")
    data["profile_attributes"][0]["access"][0]["can_write"] = False
    data["purposes"][0]["texts"]["en"]["description"] = "Our weekly newsletter"
    data["programs"][0]["tiers"][1]["min_points"] = 6000

    result = run_import(data)
    assert result.ok, result.errors
    changes = {(c.section, c.key): c for c in result.changes}
    shop = changes["clients", "shop-web"]
    assert shop.action == "update"
    assert shop.diff["brand_color"] == ("#aa3300", "#112233")
    assert shop.diff["redirect_uris"][1][-1] == "https://shop.example/cb3"
    assert changes["profile_attributes", "diet"].diff == {"access.shop-web.can_write": (True, False)}
    assert changes["purposes", "news-email"].diff == {"texts.en": ("v2", "v3")}
    assert changes["programs", "sky"].diff == {"tiers.gold.min_points": (5000, 6000)}
    assert changes["clients", "kiosk"].action == "unchanged"
    assert Client.objects.get(client_id="shop-web").client_secret == secret_before
    assert "brand_color" in "\n".join(result.plan_lines())


def test_a_dry_run_changes_nothing():
    build_config()
    before = export_text()
    data = json.loads(before)
    data["clients"].append({**data["clients"][0], "client_id": "new-app", "logo": data["clients"][2]["logo"]})
    data["clients"][1]["name"] = "Renamed kiosk"
    data["legal_documents"][0]["versions"][2]["published"] = True
    audit_count = AuditEvent.objects.count()

    result = run_import(data, dry_run=True)
    assert result.ok, result.errors
    assert not result.applied and result.secrets == {}
    actions = {(c.section, c.key): c.action for c in result.changes}
    assert actions["clients", "new-app"] == "create" and actions["clients", "kiosk"] == "update"
    assert actions["legal_documents", "terms"] == "update"
    assert without_stamp(export_text()) == without_stamp(before)
    assert AuditEvent.objects.count() == audit_count
    assert not Client.objects.filter(client_id="new-app").exists()


def test_a_wrong_format_or_version_is_refused_with_its_path():
    result = run_import({"format": "ciam-config", "version": 2, "clients": []})
    assert [(e.path, e.message) for e in result.errors] == [
        ("$.version", "Version 2 is not supported; this installation reads version 1.")
    ]
    result = run_import({"format": "other", "version": 1, "gadgets": []})
    assert {e.path for e in result.errors} == {"$.format", "$.gadgets"}
    with pytest.raises(config_io.ConfigError) as bad_json:
        config_io.parse(b"{not json")
    assert bad_json.value.path == "$"


def test_unknown_references_and_invalid_fields_are_reported_with_paths_and_nothing_is_written():
    build_config()
    data = json.loads(export_text())
    data["clients"].append({**data["clients"][1], "client_id": "brand-new"})
    data["profile_attributes"][0]["access"].append({"client": "ghost", "can_read": True})
    data["programs"][0]["clients"].append({"client": "nobody"})
    data["purposes"][0]["category"] = "spam"
    data["clients"][1]["allowed_scopes"] = ["openid", "superpowers"]
    data["clients"][0]["first_party"] = "yes"
    data["clients"][0]["colour"] = "#000000"

    result = run_import(data)
    errors = {e.path: e.message for e in result.errors}
    assert errors == {
        "$.clients[0].colour": "Unknown field.",
        "$.clients[0].first_party": "Expected true or false.",
        "$.clients[1].allowed_scopes[1]": "Unknown scope “superpowers”.",
        "$.profile_attributes[0].access[1].client": "Unknown client “ghost”.",
        "$.programs[0].clients[2].client": "Unknown client “nobody”.",
        "$.purposes[0].category": "Use one of: 'marketing', 'personalisation', 'analytics', 'sharing', 'other'.",
    }
    assert not result.applied and result.changes == []
    assert not Client.objects.filter(client_id="brand-new").exists()


def test_a_model_rule_broken_late_rolls_back_what_was_already_written():
    """A value only the model's validation catches (a colour, a redirect URI) fails the import
    after earlier objects were written in the transaction: none of them stays."""
    build_config()
    data = json.loads(export_text())
    data["clients"].append({**data["clients"][1], "client_id": "zz-new"})
    data["clients"][2]["brand_color"] = "red"
    data["purposes"][0]["position"] = 7
    data["profile_attributes"][1]["data_type"] = "text"
    AttributeDefinition.objects.filter(key="shoe_size").update(has_values=True)

    result = run_import(data)
    errors = {e.path: e.message for e in result.errors}
    assert errors["$.clients[2].brand_color"] == "Use a colour like #1f4b99."
    assert errors["$.profile_attributes[1].data_type"].startswith("Members have values for this attribute")
    assert not result.applied
    assert not Client.objects.filter(client_id="zz-new").exists()
    assert Purpose.objects.get(code="news-email").position == 0
    assert not AuditEvent.objects.filter(kind="config.imported").exists()


def test_a_published_legal_version_is_never_modified():
    build_config()
    data = json.loads(export_text())
    data["legal_documents"][0]["versions"][0]["texts"]["en"]["body"] = "Be very nice."
    data["legal_documents"][0]["versions"][1]["material"] = True
    data["legal_documents"][0]["versions"][1]["texts"].pop("ja")

    result = run_import(data)
    paths = [e.path for e in result.errors]
    assert paths == [
        "$.legal_documents[0].versions[0].texts.en",
        "$.legal_documents[0].versions[1].material",
        "$.legal_documents[0].versions[1].texts.ja",
    ]
    assert "add a new version instead" in result.errors[0].message
    assert LegalDocumentText.objects.get(version__version="2025-01", language="en").body == "Be nice."


def test_new_legal_versions_are_published_through_the_service_in_file_order():
    build_config()
    data = json.loads(export_text())
    versions = data["legal_documents"][0]["versions"]
    versions[2]["published"] = True
    versions[2]["material"] = True
    versions.append(
        {"version": "2026-02", "material": False, "published": False, "texts": {"en": {"title": "T", "body": "B"}}}
    )
    result = run_import(data)
    assert result.ok, result.errors
    version = LegalDocumentVersion.objects.get(version="2026-01")
    assert version.published_at is not None and version.material
    event = AuditEvent.objects.filter(kind="legal.version_published").latest("id")
    assert event.data["version"] == "2026-01"
    from consent.legal import selectors

    assert selectors.current_versions()[0].version == "2026-01"
    assert LegalDocumentVersion.objects.get(version="2026-02").published_at is None

    # Publishing before an already-published version, or unpublishing, is refused.
    data = json.loads(export_text())
    versions = data["legal_documents"][0]["versions"]
    versions.insert(
        0, {"version": "2024", "material": True, "published": True, "texts": {"en": {"title": "T", "body": "B"}}}
    )
    versions[1]["published"] = False
    paths = {e.path for e in run_import(data).errors}
    assert paths == {"$.legal_documents[0].versions[1].published", "$.legal_documents[0].versions[2]"}


def test_the_first_published_version_must_be_material_and_have_the_default_language():
    data = {
        "format": "ciam-config",
        "version": 1,
        "legal_documents": [
            {
                "slug": "privacy",
                "name": "Privacy",
                "versions": [
                    {"version": "1", "material": False, "published": True, "texts": {"ja": {"title": "T", "body": "B"}}}
                ],
            }
        ],
    }
    paths = [e.path for e in run_import(data).errors]
    assert paths == ["$.legal_documents[0].versions[0].texts", "$.legal_documents[0].versions[0].material"]
    assert not LegalDocument.objects.exists()


def test_nothing_is_deleted_without_prune_and_prune_deletes_what_the_file_does_not_list():
    build_config()
    data = json.loads(export_text())
    data["clients"] = [c for c in data["clients"] if c["client_id"] != "kiosk"]
    data["profile_attributes"][0]["choices"] = [
        c for c in data["profile_attributes"][0]["choices"] if c["value"] != "halal"
    ]
    data["profile_attributes"][0]["access"] = []
    data["profile_attributes"] = data["profile_attributes"][:1]
    data["programs"][0]["tiers"] = data["programs"][0]["tiers"][:1]
    data["programs"][0]["clients"] = data["programs"][0]["clients"][:1]
    data["legal_documents"][0]["versions"] = data["legal_documents"][0]["versions"][:2]
    data["purposes"] = []

    result = run_import(data)
    assert result.ok and not any(c.action == "delete" for c in result.changes)
    assert Client.objects.filter(client_id="kiosk").exists() and AttributeAccess.objects.count() == 1

    result = run_import(data, prune=True, dry_run=True)
    assert result.ok
    assert Client.objects.filter(client_id="kiosk").exists()

    result = run_import(data, prune=True)
    assert result.ok, result.errors
    deleted = {(c.section, c.key) for c in result.changes if c.action == "delete"}
    assert deleted == {("clients", "kiosk"), ("profile_attributes", "shoe_size"), ("purposes", "news-email")}
    assert not Client.objects.filter(client_id="kiosk").exists()
    assert list(AttributeChoice.objects.values_list("value", flat=True)) == ["vegan"]
    assert not AttributeAccess.objects.exists()
    assert list(Tier.objects.values_list("code", flat=True)) == ["blue"]
    assert list(ProgramClient.objects.values_list("client__client_id", flat=True)) == ["fuel-partner"]
    # Drafts go; published versions never do.
    assert sorted(LegalDocumentVersion.objects.values_list("version", flat=True)) == ["2025-01", "2025-06"]
    assert without_stamp(export_text()) == {**without_stamp(config_io.dumps(data)), "source": data["source"]}


def test_prune_keeps_what_evidence_refers_to_and_says_so(member):
    build_config()
    purpose_services.consent_change(user=member, changes={"news-email": True}, channel="web")
    data = json.loads(export_text())
    data["purposes"] = []
    data["legal_documents"] = []
    result = run_import(data, prune=True)
    assert result.ok, result.errors
    assert Purpose.objects.filter(code="news-email").exists()
    assert LegalDocument.objects.filter(slug="terms").exists()
    assert any("news-email" in note for note in result.notes)
    assert any("terms" in note for note in result.notes)


def test_commands_export_to_a_file_and_import_with_a_plan(tmp_path, capsys):
    build_config()
    path = tmp_path / "config.json"
    call_command("config_export", "--only", "clients,programs", "-o", str(path))
    data = json.loads(path.read_text())
    assert set(data) == {"format", "version", "exported_at", "source", "clients", "programs"}

    data["clients"][1]["name"] = "Kiosk 2"
    path.write_text(json.dumps(data))
    call_command("config_import", str(path), "--dry-run")
    out = capsys.readouterr().out
    assert "update    clients kiosk" in out and 'name: "Kiosk" -> "Kiosk 2"' in out and "Dry run" in out
    assert Client.objects.get(client_id="kiosk").name == "Kiosk"

    call_command("config_import", str(path))
    assert "Applied." in capsys.readouterr().out
    assert Client.objects.get(client_id="kiosk").name == "Kiosk 2"

    with pytest.raises(CommandError, match="unknown"):
        call_command("config_export", "--only", "unknown")


def test_the_import_command_fails_with_paths_and_no_traceback(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format": "ciam-config", "version": 1, "clients": [{"client_id": "x"}]}))
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("config_import", str(path))
    err = capsys.readouterr().err
    assert "$.clients[0].client_type: This field is required." in err
    path.write_text("{")
    with pytest.raises(CommandError, match=r"^\$: Not valid JSON"):
        call_command("config_import", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("config_import", str(tmp_path / "missing.json"))


def test_new_confidential_client_secret_is_printed_once(tmp_path, capsys):
    path = tmp_path / "config.json"
    client = {
        "client_id": "fresh",
        "client_type": "confidential",
        "authorization_grant_type": "authorization-code",
        "redirect_uris": ["https://fresh.example/cb"],
    }
    path.write_text(json.dumps({"format": "ciam-config", "version": 1, "clients": [client]}))
    call_command("config_import", str(path))
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("New client secret for fresh"))
    secret = line.rsplit(" ", 1)[1]
    assert check_password(secret, Client.objects.get(client_id="fresh").client_secret)
    call_command("config_import", str(path))
    assert "New client secret" not in capsys.readouterr().out


def test_model_rules_are_reported_under_the_files_field_names():
    data = {
        "format": "ciam-config",
        "version": 1,
        "programs": [{"code": "bad code!", "name": "x" * 101}],
        "purposes": [{"code": "good", "category": "other", "texts": {"en": {"name": "", "description": "d"}}}],
        "clients": [
            {
                "client_id": "q",
                "client_type": "confidential",
                "authorization_grant_type": "authorization-code",
                "redirect_uris": ["ftp://x"],
                "backchannel_logout_uri": "nope",
            }
        ],
    }
    errors = {e.path for e in run_import(data).errors}
    assert errors == {
        "$.programs[0].code",
        "$.programs[0].name",
        "$.purposes[0].texts.en.name",
        "$.clients[0].redirect_uris",
        "$.clients[0].backchannel_logout_uri",
    }
    assert not Purpose.objects.exists() and not Client.objects.exists()


def test_a_draft_legal_version_is_updated_field_by_field():
    build_config()
    data = json.loads(export_text())
    draft = data["legal_documents"][0]["versions"][2]
    draft["texts"]["en"]["body"] = "Draft 2"
    draft["texts"]["ja"] = {"title": "規約 2026", "summary": "", "body": "下書き"}
    result = run_import(data)
    assert result.ok, result.errors
    (change,) = [c for c in result.changes if c.section == "legal_documents"]
    assert change.diff == {
        "versions.2026-01.texts.en.body": ("Draft", "Draft 2"),
        "versions.2026-01.texts.ja": (None, "created"),
    }
    assert LegalDocumentText.objects.get(version__version="2026-01", language="en").body == "Draft 2"


def test_how_an_existing_clients_secret_is_stored_cannot_change_by_import():
    build_config()
    data = json.loads(export_text())
    data["clients"][2]["hash_client_secret"] = False
    errors = [e.path for e in run_import(data).errors]
    assert errors == ["$.clients[2].hash_client_secret"]
    assert Client.objects.get(client_id="shop-web").hash_client_secret is True


def test_tier_thresholds_can_swap_and_a_client_moves_to_another_program():
    build_config()
    data = json.loads(export_text())
    sky = data["programs"][0]
    sky["tiers"] = [
        {"code": "blue", "name": "Blue", "min_points": 5000},
        {"code": "gold", "name": "Gold", "min_points": 0},
    ]
    moved = sky["clients"].pop(0)
    data["programs"].append({"code": "fuel", "name": "Fuel Club", "clients": [moved]})
    result = run_import(data)
    assert result.ok, result.errors
    assert dict(Tier.objects.values_list("code", "min_points")) == {"blue": 5000, "gold": 0}
    assert ProgramClient.objects.get(client__client_id="fuel-partner").program.slug == "fuel"
    changes = {(c.section, c.key): c for c in result.changes}
    assert changes["programs", "fuel"].diff["clients.fuel-partner.program"] == ("sky", "fuel")
    assert {c.action for c in run_import(data).changes} == {"unchanged"}


def test_with_prune_a_reference_to_a_client_the_file_drops_is_unknown():
    build_config()
    data = json.loads(export_text())
    data["clients"] = [c for c in data["clients"] if c["client_id"] != "shop-web"]
    assert run_import(data, dry_run=True).ok  # without prune shop-web stays, so the references hold
    errors = [e.path for e in run_import(data, prune=True).errors]
    assert errors == ["$.profile_attributes[0].access[0].client", "$.programs[0].clients[1].client"]
    assert Client.objects.filter(client_id="shop-web").exists()
