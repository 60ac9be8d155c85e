"""The second step applies to every kind of login: here a sign-in through an OpenID Connect upstream.

Uses the social-login tests' fake upstream on loopback (nothing reaches the internet).
"""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.services import authentication_context
from tests.accounts.mfa.conftest import STAGE_URL, device_code, is_signed_in, sign_out
from tests.accounts.social.conftest import _social_urls, partner_app, social_login, upstream  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_social_sign_in_asks_for_the_second_factor_too(client, partner_app, upstream):  # noqa: F811
    assert social_login(client, upstream).status_code == 302  # first visit: signs up
    user = User.objects.get(email="new.member@example.com")
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    sign_out(client)

    resp = social_login(client, upstream)

    assert resp.status_code == 302 and resp["Location"].startswith(STAGE_URL)
    assert not is_signed_in(client)
    resp = client.post(STAGE_URL, {"method": "totp", "code": device_code(device)})
    assert resp.status_code == 302 and is_signed_in(client)
    request = RequestFactory().get("/")
    request.session, request.user = client.session, user
    context = authentication_context(request)
    assert set(context["amr"]) == {"fed", "otp", "mfa"}
    assert context["acr"] == "urn:ciam:acr:mfa"
