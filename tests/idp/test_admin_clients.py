"""Clients registered by staff in the admin, with their branding on the hosted pages."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from idp.models import Client
from tests.accounts.mfa.conftest import force_login_with_mfa
from tests.conftest import authorize_params, pkce_pair

pytestmark = pytest.mark.django_db

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2217bc50000000049454e44ae426082"
)


def test_staff_registers_a_branded_client_in_the_admin(client, admin_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    force_login_with_mfa(client, admin_user)
    page = client.get("/admin/idp/client/add/")
    assert page.status_code == 200
    initial_secret = page.context["adminform"].form.initial.get("client_secret") or "x" * 64
    resp = client.post(
        "/admin/idp/client/add/",
        {
            "name": "Fuel Rewards",
            "client_id": "fuel-rewards",
            "client_type": "confidential",
            "authorization_grant_type": "authorization-code",
            "client_secret": initial_secret,
            "hash_client_secret": "on",
            "redirect_uris": "https://fuel.example/cb",
            "post_logout_redirect_uris": "https://fuel.example/",
            "allowed_origins": "",
            "first_party": "on",
            "require_pkce": "on",
            "allowed_scopes": "",
            "algorithm": "RS256",
            "brand_color": "#aa3300",
            "logo": SimpleUploadedFile("logo.png", PNG, content_type="image/png"),
        },
    )
    assert resp.status_code == 302, resp.context["adminform"].form.errors if resp.context else resp
    created = Client.objects.get(client_id="fuel-rewards")
    assert created.first_party and created.brand_color == "#aa3300"

    client.logout()
    login_page = client.get("/authorize", authorize_params(created, challenge=pkce_pair()[1]), follow=True)
    html = login_page.content.decode()
    assert "Fuel Rewards" in html
    assert "/branding/fuel-rewards/theme.css" in html and "/branding/fuel-rewards/logo" in html
    assert (
        client.get("/branding/fuel-rewards/theme.css").content.decode().strip() == ":root{--brand:#aa3300;}"
    )
    logo = client.get("/branding/fuel-rewards/logo")
    assert logo["Content-Type"] == "image/png" and b"".join(logo.streaming_content) == PNG


def test_bad_brand_colour_is_a_form_error(client, admin_user):
    force_login_with_mfa(client, admin_user)
    resp = client.post(
        "/admin/idp/client/add/",
        {
            "name": "x",
            "client_id": "x",
            "client_type": "public",
            "authorization_grant_type": "authorization-code",
            "brand_color": "red; background:url(//evil)",
            "algorithm": "RS256",
        },
    )
    assert resp.status_code == 200
    assert "brand_color" in resp.context["adminform"].form.errors


def test_members_cannot_reach_the_admin(client, member):
    client.force_login(member)
    assert client.get("/admin/idp/client/").status_code == 302
