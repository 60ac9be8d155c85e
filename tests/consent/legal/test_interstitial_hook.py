"""idp.interstitials, the generic hook (issue 6 reuses it for progressive profiling)."""

from __future__ import annotations

import pytest

from idp.interstitials import Interstitial, pending_interstitial, register_interstitial, unregister_interstitial
from tests.conftest import authorize_params, login, pkce_pair, query_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def profile_question():
    """A check like issue 6's: members without a nickname are asked for one (here: a flag)."""
    asked = {"pending": True, "seen": []}

    def check(request, user, client):
        asked["seen"].append((user.pk, client.client_id))
        if not asked["pending"]:
            return None
        return Interstitial(url="/profile/question?step=1", error="interaction_required")

    register_interstitial(check)
    register_interstitial(check)  # idempotent
    yield asked
    unregister_interstitial(check)


def test_a_registered_check_stops_authorize_and_gets_the_request_back(client, member, rp, profile_question):
    app, _ = rp
    login(client, member)
    params = authorize_params(app, challenge=pkce_pair()[1])

    resp = client.get("/authorize", params)

    assert resp.status_code == 302
    location = query_of(resp["Location"])
    assert resp["Location"].startswith("/profile/question?")
    assert location["step"] == "1"  # the check's own query is kept
    assert query_of(location["next"])["state"] == params["state"]
    assert profile_question["seen"] == [(member.pk, app.client_id)]  # registered twice, ran once

    profile_question["pending"] = False
    assert "code" in query_of(client.get(location["next"])["Location"])


@pytest.mark.spec("OIDC Core §3.1.2.6")
def test_prompt_none_gets_the_checks_error(client, member, rp, profile_question):
    app, _ = rp
    login(client, member)
    resp = client.get("/authorize", authorize_params(app, challenge=pkce_pair()[1], prompt="none", state="s1"))
    q = query_of(resp["Location"])
    assert q["error"] == "interaction_required" and q["state"] == "s1" and q["iss"] == "http://testserver"


def test_no_checks_pending_means_none(rf, member, rp):
    request = rf.get("/authorize")
    request.session = {}
    assert pending_interstitial(request, member, rp[0]) is None
