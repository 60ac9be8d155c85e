"""A member can join a points programme at sign-up with one unticked, optional box."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from loyalty.models import Membership
from loyalty.numbers import is_valid_member_number as member_number_valid
from tests.loyalty.conftest import make_program

pytestmark = pytest.mark.django_db
PASSWORD = "a-Good-passphrase-91"


def test_signup_offers_an_unticked_box_per_open_programme(client):
    make_program("sky", name="Sky Miles")
    make_program("closed", name="Old Club", is_active=False)
    html = client.get("/accounts/signup/").content.decode()
    assert 'name="join_program_sky"' in html and "Sky Miles" in html
    assert 'name="join_program_closed"' not in html
    field = html[html.index('name="join_program_sky"') - 200 : html.index('name="join_program_sky"') + 200]
    assert "checked" not in field and "required" not in field


def test_ticking_the_box_joins_with_a_member_number(client):
    program = make_program("sky", name="Sky Miles")
    resp = client.post(
        "/accounts/signup/", {"email": "new@example.com", "password1": PASSWORD, "join_program_sky": "on"}
    )
    assert resp.status_code == 302
    user = get_user_model().objects.get(email="new@example.com")
    membership = Membership.objects.get(user=user, program=program)
    assert member_number_valid(membership.member_number)


def test_leaving_it_unticked_joins_nothing(client):
    make_program("sky", name="Sky Miles")
    resp = client.post("/accounts/signup/", {"email": "new@example.com", "password1": PASSWORD})
    assert resp.status_code == 302
    assert not Membership.objects.filter(user__email="new@example.com").exists()
