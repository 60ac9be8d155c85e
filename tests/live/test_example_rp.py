"""examples/rp.py, the relying party the README shows, run as its own process against the live server."""

from __future__ import annotations

import html
import re
import secrets
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, make_client
from tests.live.conftest import csrf_token

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def example_rp(issuer, tmp_path):
    """Start ``examples/rp.py`` on a free port; register a client for the port it reports."""
    client_id, secret = "rp-example-" + secrets.token_hex(4), secrets.token_urlsafe(48)
    log = (tmp_path / "rp.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "examples/rp.py", "--issuer", issuer, "--client-id", client_id,
         "--client-secret", secret, "--port", "0"],
        cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=log, text=True,
    )  # fmt: skip
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else ""
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, f"examples/rp.py did not start: {line!r}\n{(tmp_path / 'rp.log').read_text()}"
        base = match.group(1)
        # make_client sets exactly the fields given; the client_secret given is the one stored.
        make_client(client_id=client_id, client_secret=secret, name="Example RP",
                    redirect_uris=f"{base}/callback", post_logout_redirect_uris=f"{base}/")  # fmt: skip
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        log.close()


def status_of(page: str) -> str:
    match = re.search(r"<p id=status>(.*?)</p>", page)
    assert match, page[:2000]
    return re.sub("<[^>]+>", "", match.group(1))


@pytest.mark.spec("OIDC Core §3.1")
@pytest.mark.spec("OIDC RP-Initiated Logout §2")
def test_example_relying_party_signs_the_member_in_and_out(example_rp, browser, member):
    # First visit: the silent check (prompt=none) finds no session at the provider.
    first = browser.get(example_rp + "/", timeout=20)
    assert first.status_code == 200 and first.url == example_rp + "/"
    assert status_of(first.text) == "Not signed in."
    assert any("error=login_required" in r.headers.get("Location", "") for r in first.history)

    # "Sign in": through the provider's hosted login form and back.
    login_page = browser.get(example_rp + "/login", timeout=20)
    assert 'name="password"' in login_page.text, login_page.text[:2000]
    page = browser.post(
        login_page.url,
        data={"csrfmiddlewaretoken": csrf_token(login_page.text), "login": member.email, "password": "wrong"},
        timeout=20,
    )
    assert page.url.startswith(login_page.url.split("?")[0]), "a wrong password must not sign in"
    page = browser.post(
        page.url,
        data={"csrfmiddlewaretoken": csrf_token(page.text), "login": member.email, "password": PASSWORD},
        timeout=20,
    )
    assert page.status_code == 200 and page.url == example_rp + "/", (page.url, page.text[:2000])
    assert status_of(page.text) == f"Signed in as {member.email}."
    shown = html.unescape(page.text)  # the ID token claims and userinfo, as JSON
    assert f'"sub": "{member.sub}"' in shown

    # "My account": the provider's account page, with a way back to this site's origin.
    account_url = html.unescape(re.search(r'<a id=my-account href="([^"]+)"', page.text).group(1))
    account = browser.get(account_url, timeout=20)
    assert account.status_code == 200 and account.url == account_url
    assert f'id="back-to-client" class="pc-back" href="{example_rp}/"' in account.text
    assert '"acr": "urn:ciam:acr:password"' in shown

    # "Sign out": RP-initiated logout, back to the relying party with its state.
    out = browser.post(example_rp + "/logout", timeout=20)
    assert out.status_code == 200 and out.url.startswith(example_rp + "/?state="), out.url
    assert "You are signed out" in out.text and status_of(out.text) == "Not signed in."

    # The provider's session is gone too: a silent check comes back "not signed in".
    again = browser.get(example_rp + "/login?prompt=none", timeout=20)
    assert again.url == example_rp + "/" and status_of(again.text) == "Not signed in."
