"""Progressive profiling: at most one question per sign-in through a client, skippable, never blocking."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from accounts.models import MemberAttributes
from accounts.profile import selectors, services
from idp.models import AuditEvent
from tests.accounts.profile.conftest import grant
from tests.conftest import (
    PASSWORD,
    authorize_params,
    exchange,
    id_token_claims,
    login,
    make_client,
    pkce_pair,
    query_of,
)

pytestmark = pytest.mark.django_db

QUESTION = "/account/profile/question"
SCOPE = "openid email profile:preferences"


@pytest.fixture
def shop(rp, attrs):
    """Wants diet first, then seat (both preferences), then pet (household); reads them all."""
    app, secret = rp
    grant(app, attrs["diet"], ask=1)
    grant(app, attrs["seat"], ask=2)
    grant(app, attrs["pet"], ask=3)
    grant(app, attrs["premium_fuel"])  # read but never asked
    return app, secret


def authorize(client, app, **extra):
    verifier, challenge = pkce_pair()
    params = authorize_params(app, challenge=challenge, **{"scope": SCOPE, **extra})
    return client.get("/authorize", params), params, verifier


def asked(resp) -> str:
    """The /authorize request a question page will return to (asserting it is the question page)."""
    assert resp.status_code == 302 and resp["Location"].startswith(QUESTION + "?"), resp.get("Location")
    return query_of(resp["Location"])["next"]


def code_of(resp) -> str:
    assert resp.status_code == 302, resp.content[:300]
    q = query_of(resp["Location"])
    assert "code" in q and "error" not in q, q
    return q["code"]


def answer(client, nxt, key, value):
    return client.post(QUESTION, {"next": nxt, "attribute": key, "action": "save", f"attr-{key}": value})


def skip(client, nxt, key):
    return client.post(QUESTION, {"next": nxt, "attribute": key, "action": "skip"})


def test_asked_once_at_login_through_the_rp_and_the_answer_is_stored_and_released(client, member, shop):
    app, secret = shop
    resp, params, verifier = authorize(client, app)
    to_login = resp["Location"]
    assert to_login.startswith("/accounts/login/")
    resp = client.post(to_login, {"login": member.email, "password": PASSWORD})
    nxt = asked(client.get(resp["Location"]))
    assert query_of(nxt)["state"] == params["state"]

    page = client.get(QUESTION, {"next": nxt})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Your diet" in html and 'value="vegetarian"' in html and "Test RP" in html
    assert 'name="action" value="skip"' in html and "csrfmiddlewaretoken" in html
    assert 'value="pet"' not in html  # one question, not a form

    back = answer(client, nxt, "diet", "vegetarian")
    assert back.status_code == 302 and back["Location"] == nxt
    code = code_of(client.get(nxt))  # the same /authorize request goes on
    tokens = exchange(client, app, secret, code, verifier).json()
    assert id_token_claims(client, tokens["id_token"])["preferences"] == {"diet": "vegetarian"}
    assert selectors.member_data(member) == {"diet": "vegetarian"}
    event = AuditEvent.objects.get(kind="profile.attributes_updated", user=member)
    assert event.client == app and event.data["source"] == "progressive"

    # SSO in the same session: not asked again, although "seat" is still missing.
    code_of(authorize(client, app)[0])


def test_next_sign_in_asks_the_next_missing_attribute(client, member, shop):
    app, _ = shop
    login(client, member)
    answer(client, asked(authorize(client, app)[0]), "diet", "vegan")
    client.logout()
    login(client, member)
    nxt = asked(authorize(client, app)[0])
    assert "Seat" in client.get(QUESTION, {"next": nxt}).content.decode()


def test_skip_goes_straight_back_and_is_remembered_for_a_while(client, member, shop):
    app, _ = shop
    login(client, member)
    resp, params, _ = authorize(client, app)
    nxt = asked(resp)
    back = skip(client, nxt, "diet")
    assert back["Location"] == nxt
    assert query_of(client.get(nxt)["Location"])["state"] == params["state"]  # the code, for the same request
    assert "diet" in MemberAttributes.objects.get(user=member).skipped
    assert AuditEvent.objects.filter(kind="profile.question_skipped", user=member, data={"key": "diet"}).exists()

    client.logout()
    login(client, member)
    nxt = asked(authorize(client, app)[0])
    assert "Seat" in client.get(QUESTION, {"next": nxt}).content.decode()  # diet skipped: the next one
    skip(client, nxt, "seat")

    client.logout()
    login(client, member)
    code_of(authorize(client, app)[0])  # both skipped; pet's scope was not requested: nothing to ask

    later = timezone.now() + timedelta(days=91)
    client.logout()
    login(client, member)
    with mock.patch("django.utils.timezone.now", return_value=later):
        nxt = asked(authorize(client, app)[0])  # the skip has expired
        assert "Your diet" in client.get(QUESTION, {"next": nxt}).content.decode()


@pytest.mark.spec("OIDC Core §3.1.2.6")
def test_prompt_none_is_never_blocked_by_a_question(client, member, shop):
    app, _ = shop
    login(client, member)
    code_of(authorize(client, app, prompt="none")[0])
    assert selectors.next_question(user=member, client=app, scopes=SCOPE.split()) is not None  # still pending
    asked(authorize(client, app)[0])  # an interactive request asks


def test_only_for_scopes_the_request_asks_for(client, member, shop, attrs):
    app, _ = shop
    login(client, member)
    code_of(authorize(client, app, scope="openid email")[0])
    services.profile_attributes_update(
        user=member, values={"diet": "any", "seat": "window"}, source=services.SOURCE_MEMBER
    )
    code_of(authorize(client, app)[0])  # preferences complete
    nxt = asked(authorize(client, app, scope="openid profile:household")[0])
    assert "Cat or dog?" in client.get(QUESTION, {"next": nxt}).content.decode()


def test_other_clients_and_clients_without_a_list_are_not_affected(client, member, shop, attrs):
    app, _ = shop
    plain, _ = make_client(name="Plain RP")
    login(client, member)
    code_of(authorize(client, plain)[0])
    other, _ = make_client(name="Fuel app")
    grant(other, attrs["premium_fuel"], ask=1)
    skip(client, asked(authorize(client, app)[0]), "diet")
    nxt = asked(authorize(client, other)[0])  # one question per client per sign-in
    assert "Premium fuel?" in client.get(QUESTION, {"next": nxt}).content.decode()


def test_invalid_answer_shows_an_error_and_skip_still_works(client, member, shop):
    app, _ = shop
    login(client, member)
    nxt = asked(authorize(client, app)[0])
    for value in ("carnivore", ""):
        resp = answer(client, nxt, "diet", value)
        assert resp.status_code == 400
        assert resp.context["form"].errors["diet"]
    assert selectors.member_data(member) == {}
    assert skip(client, nxt, "diet")["Location"] == nxt


def test_question_page_guards(client, member, shop, attrs):
    app, _ = shop
    login(client, member)
    nxt = asked(authorize(client, app)[0])
    # Not on the way to an RP, or to another site: the member's own page, never an open redirect.
    for bad in ("", "https://evil.example/authorize?client_id=" + app.client_id, "/account/mfa/"):
        resp = client.get(QUESTION, {"next": bad})
        assert resp.status_code == 302 and resp["Location"] == "/account/profile/attributes"
    # A stale form (the question changed meanwhile) is shown again, nothing stored.
    resp = answer(client, nxt, "seat", "window")
    assert resp.status_code == 200 and resp.context["definition"].key == "diet"
    assert selectors.member_data(member) == {}
    # Answered elsewhere meanwhile: straight back to the RP.
    services.profile_attributes_update(
        user=member, values={"diet": "any", "seat": "aisle"}, source=services.SOURCE_MEMBER
    )
    assert client.get(QUESTION, {"next": nxt})["Location"] == nxt
    client.logout()
    resp = client.get(QUESTION, {"next": nxt})
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")


def test_third_party_client_question_then_consent(client, member, third_party_rp, attrs):
    app, _ = third_party_rp
    grant(app, attrs["diet"], ask=1)
    login(client, member)
    nxt = asked(authorize(client, app)[0])
    assert answer(client, nxt, "diet", "vegan")["Location"] == nxt
    consent = client.get(nxt)
    assert consent.status_code == 200 and "preferences" in str(consent.context["claims_preview"])
