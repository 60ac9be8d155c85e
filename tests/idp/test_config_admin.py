"""The admin page of configuration export/import: download, upload, plan, confirm."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from idp.models import AuditEvent, Client
from tests.accounts.mfa.conftest import force_login_with_mfa
from tests.conftest import make_client

pytestmark = pytest.mark.django_db
URL = "/admin/idp/client/configuration/"


def upload(data: dict) -> SimpleUploadedFile:
    return SimpleUploadedFile("config.json", json.dumps(data).encode(), content_type="application/json")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(email="staff@example.com", password="x" * 20, is_staff=True)


def test_the_admin_index_links_to_the_page_for_superusers_only(client, admin_user, staff):
    force_login_with_mfa(client, admin_user)
    assert URL in client.get("/admin/").content.decode()
    client.logout()
    force_login_with_mfa(client, staff)
    assert URL not in client.get("/admin/").content.decode()
    assert client.get(URL).status_code == 403


def test_a_superuser_downloads_the_export_and_it_is_audited(client, admin_user):
    make_client(client_id="shop-web")
    force_login_with_mfa(client, admin_user)
    page = client.get(URL)
    assert page.status_code == 200 and b"config-upload" in page.content
    response = client.get(URL, {"action": "export", "only": ["clients", "programs"]})
    assert response["Content-Disposition"].startswith('attachment; filename="ciam-config-')
    data = json.loads(response.content)
    assert set(data) == {"format", "version", "exported_at", "source", "clients", "programs"}
    assert [c["client_id"] for c in data["clients"]] == ["shop-web"]
    assert AuditEvent.objects.filter(kind="config.exported", user=admin_user).exists()


def test_upload_shows_the_plan_and_only_confirming_applies_it(client, admin_user):
    shop, _secret = make_client(client_id="shop-web", name="Shop")
    force_login_with_mfa(client, admin_user)
    data = json.loads(client.get(URL, {"action": "export"}).content)
    data["clients"][0]["name"] = "Shop renamed"
    data["clients"].append({**data["clients"][0], "client_id": "new-app", "name": "New"})

    page = client.post(URL, {"action": "plan", "file": upload(data)})
    html = page.content.decode()
    assert "update    clients shop-web" in html and "create    clients new-app" in html
    assert Client.objects.get(client_id="shop-web").name == "Shop"
    sha = page.context["apply_form"].initial["sha256"]

    page = client.post(URL, {"action": "apply", "sha256": sha})
    assert page.context["applied"] is True
    assert Client.objects.get(client_id="shop-web").name == "Shop renamed"
    secret = page.context["result"].secrets["new-app"]
    assert secret in page.content.decode()  # shown once, on this page
    event = AuditEvent.objects.get(kind="config.imported")
    assert event.user == admin_user and event.data["counts"] == {"create": 1, "update": 1}

    # The plan was consumed: confirming again does nothing.
    page = client.post(URL, {"action": "apply", "sha256": sha})
    assert page.context["stale"] is True
    assert AuditEvent.objects.filter(kind="config.imported").count() == 1


def test_a_bad_file_shows_errors_with_paths_and_no_apply_button(client, admin_user):
    force_login_with_mfa(client, admin_user)
    page = client.post(URL, {"action": "plan", "file": upload({"format": "ciam-config", "version": 9})})
    assert "$.version" in page.content.decode()
    assert "apply_form" not in page.context
    page = client.post(
        URL, {"action": "plan", "file": SimpleUploadedFile("x.json", b"\xff\xfe", content_type="application/json")}
    )
    assert page.status_code == 200 and "Not valid JSON" in page.content.decode()


def test_the_dedicated_permissions_split_export_and_import(client, staff):
    staff.user_permissions.add(Permission.objects.get(codename="export_config"))
    force_login_with_mfa(client, staff)
    assert URL in client.get("/admin/").content.decode()
    page = client.get(URL)
    assert b"config-export" in page.content and b"config-upload" not in page.content
    assert client.get(URL, {"action": "export"}).status_code == 200
    data = {"format": "ciam-config", "version": 1, "clients": []}
    assert client.post(URL, {"action": "plan", "file": upload(data)}).status_code == 403

    staff.user_permissions.set([Permission.objects.get(codename="import_config")])
    page = client.get(URL)
    assert b"config-export" not in page.content and b"config-upload" in page.content
    assert client.get(URL, {"action": "export"}).status_code == 403
    assert client.post(URL, {"action": "plan", "file": upload(data)}).status_code == 200
