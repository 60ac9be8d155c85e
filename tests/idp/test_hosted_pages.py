"""Hosted account pages: email verification and password reset (allauth)."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _link(message) -> str:
    return re.search(r"http://testserver(/accounts/\S+)", message.body).group(1)


def test_signup_sends_verification_and_confirming_verifies(client, django_user_model):
    client.post("/accounts/signup/", {"email": "fresh@example.com", "password1": "a-Good-passphrase-91"})
    user = django_user_model.objects.get(email="fresh@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    link = _link(mail.outbox[0])
    page = client.get(link)
    assert page.status_code == 200
    client.post(link)
    assert EmailAddress.objects.get(user=user).verified


def test_password_reset_link_is_single_use(client, member):
    client.post("/accounts/password/reset/", {"email": member.email})
    assert len(mail.outbox) == 1
    link = _link(mail.outbox[0])
    form_page = client.get(link, follow=True)
    action = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    done = client.post(action, {"password1": "Another-good-phrase-77", "password2": "Another-good-phrase-77"})
    assert done.status_code == 302
    member.refresh_from_db()
    assert member.check_password("Another-good-phrase-77")

    again = client.get(link, follow=True)
    assert "password1" not in again.content.decode() or again.context.get("token_fail")
    assert client.login(email=member.email, password="Another-good-phrase-77")
    assert not member.check_password(PASSWORD)


def test_password_reset_for_unknown_email_reveals_nothing(client):
    resp = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert resp.status_code == 302
