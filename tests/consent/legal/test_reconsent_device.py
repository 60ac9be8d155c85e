"""Re-consent on the device flow (RFC 8628): approving a kiosk passes the same interstitials as /authorize."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from consent.models import LegalAcceptance
from tests.conftest import login, make_client
from tests.consent.legal.conftest import publish

pytestmark = pytest.mark.django_db

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def kiosk(db):
    app, _ = make_client(client_type="public", authorization_grant_type=DEVICE_GRANT, redirect_uris="")
    return app


def _start(client, kiosk) -> dict:
    resp = client.post(
        "/device_authorization",
        urlencode({"client_id": kiosk.client_id, "scope": "openid"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 200, resp.content
    return resp.json()


def _poll(client, kiosk, body):
    return client.post(
        "/token", {"grant_type": DEVICE_GRANT, "device_code": body["device_code"], "client_id": kiosk.client_id}
    )


def _next_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["next"][0]


@pytest.mark.spec("RFC 8628 §3.3")
def test_pending_terms_stop_the_device_approval_until_accepted(client, accepted_member, kiosk):
    body = _start(client, kiosk)
    login(client, accepted_member)
    publish("terms", "2", material=True)

    confirm = client.post("/device", {"user_code": body["user_code"]})["Location"]
    # Neither showing nor posting the approval gets past the pending terms.
    for resp in (client.get(confirm), client.post(confirm, {"action": "accept"})):
        assert resp.status_code == 302 and resp["Location"].startswith("/legal/accept?")
        assert _next_of(resp["Location"]) == confirm
    assert _poll(client, kiosk, body).json()["error"] == "authorization_pending"

    accept = client.get(resp["Location"])
    versions = [str(d["version"].pk) for d in accept.context["documents"]]
    assert accept.context["client"] == kiosk  # the evidence names the device's client
    done = client.post(resp["Location"], {"versions": versions, "language": "en", "action": "accept", "next": confirm})
    assert done.status_code == 302 and done["Location"] == confirm
    row = LegalAcceptance.objects.get(user=accepted_member, version__version="2")
    assert row.client == kiosk and row.channel == LegalAcceptance.Channel.SSO

    assert client.post(confirm, {"action": "accept"}).status_code == 302
    tokens = _poll(client, kiosk, body)
    assert tokens.status_code == 200, tokens.content


@pytest.mark.spec("RFC 8628 §3.5")
def test_declining_the_terms_denies_the_device(client, accepted_member, kiosk):
    body = _start(client, kiosk)
    login(client, accepted_member)
    publish("terms", "2", material=True)

    confirm = client.post("/device", {"user_code": body["user_code"]})["Location"]
    interstitial = client.get(confirm)["Location"]
    declined = client.post(interstitial, {"action": "decline", "next": confirm})
    assert declined.status_code == 302 and declined["Location"].startswith("/legal/declined?")

    # Back on the approval page: no approval is possible, the device is denied.
    back = client.get(confirm)
    assert back.status_code == 302 and "/status" in back["Location"]
    assert _poll(client, kiosk, body).json()["error"] == "access_denied"
    assert not LegalAcceptance.objects.filter(version__version="2").exists()
