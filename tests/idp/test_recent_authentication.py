"""Sensitive account changes need a recent authentication (OWASP ASVS 3.7.1)."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, login
from tests.idp.test_prompt_and_consent import age_session

pytestmark = pytest.mark.django_db
NEW = "Another-good-phrase-77"


def test_email_change_asks_to_authenticate_again(client, member):
    login(client, member)
    add = {"action_add": "", "email": "second@example.com"}
    first = client.post("/accounts/email/", add)
    assert first.status_code == 302 and "reauthenticate" in first["Location"]
    assert not member.emailaddress_set.filter(email="second@example.com").exists()

    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert client.post("/accounts/email/", add).status_code == 302
    assert member.emailaddress_set.filter(email="second@example.com").exists()

    # Five minutes later the confirmation is stale again.
    age_session(client, 600)
    stale = client.post("/accounts/email/", {"action_add": "", "email": "third@example.com"})
    assert "reauthenticate" in stale["Location"]


def test_password_change_needs_the_current_password(client, member):
    login(client, member)
    age_session(client, 600)
    wrong = client.post("/accounts/password/change/", {"oldpassword": "x", "password1": NEW, "password2": NEW})
    assert wrong.status_code == 200 and wrong.context["form"].errors.get("oldpassword")
    member.refresh_from_db()
    assert member.check_password(PASSWORD)
    right = client.post("/accounts/password/change/", {"oldpassword": PASSWORD, "password1": NEW, "password2": NEW})
    assert right.status_code == 302
    member.refresh_from_db()
    assert member.check_password(NEW)
