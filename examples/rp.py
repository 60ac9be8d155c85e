"""A demo relying party: sign in with Member ID over OpenID Connect, on Authlib and http.server.

    .venv/bin/python examples/rp.py --both          # demo-miles on :9001, demo-grocery on :9002
    .venv/bin/python examples/rp.py --client-id demo-miles --port 9001

Code flow with PKCE (S256); state, nonce and the response's ``iss`` (RFC 9207) are checked, the
ID token is verified against the provider's JWKS, then userinfo. The first visit tries a silent
sign-in (``prompt=none``); "Sign out" is RP-initiated logout. Sessions live in memory behind a
random cookie: a demo, not a production client.
"""

from __future__ import annotations

import argparse
import html
import json
import secrets
import threading
from contextlib import nullcontext
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session

DEMO_FILE = Path(__file__).resolve().parent.parent / "var" / "demo.json"
DEMO_CLIENTS = {"demo-miles": 9001, "demo-grocery": 9002}
SILENT_ERRORS = {"login_required", "interaction_required", "consent_required", "account_selection_required"}


class OIDCClient(OpenIDMixin, OAuth2Session):
    """Authlib's requests session with its OpenID helpers: ID token checks, userinfo, logout URL."""

    def __init__(self, metadata: dict, **kwargs):
        kwargs.update(code_challenge_method="S256", scope="openid profile email")
        super().__init__(token_endpoint=metadata["token_endpoint"], **kwargs)
        self.server_metadata = metadata

    def load_server_metadata(self) -> dict:
        return self.server_metadata

    def _get_session(self):
        return nullcontext(self)


class RelyingParty:
    def __init__(self, *, issuer: str, client_id: str, client_secret: str, base_url: str):
        self.issuer, self.client_id, self.client_secret = issuer.rstrip("/"), client_id, client_secret
        self.base_url = base_url
        # Cookies ignore ports: the demo sites and the provider share 127.0.0.1, so names differ.
        self.cookie = f"rp_{urlsplit(base_url).port}"
        self.sessions: dict[str, dict] = {}  # session id -> session data
        self._metadata: dict | None = None

    @property
    def metadata(self) -> dict:
        """The provider's discovery document, fetched once (OIDC Discovery §4)."""
        if self._metadata is None:
            doc = requests.get(self.issuer + "/.well-known/openid-configuration", timeout=10).json()
            if doc["issuer"] != self.issuer:  # OIDC Discovery §4.3
                raise RuntimeError(f"discovery names issuer {doc['issuer']!r}, expected {self.issuer!r}")
            self._metadata = doc
        return self._metadata

    def client(self) -> OIDCClient:
        return OIDCClient(
            self.metadata,
            client_id=self.client_id,
            client_secret=self.client_secret,
            redirect_uri=self.base_url + "/callback",
            default_timeout=10,
        )


class Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer  # with an ``rp`` attribute

    def route(self):
        self.rp: RelyingParty = self.server.rp
        url = urlsplit(self.path)
        self.query = dict(parse_qsl(url.query))
        self.session_id, self.session = self.load_session()
        action = {
            ("GET", "/"): self.home,
            ("GET", "/login"): self.login,
            ("GET", "/callback"): self.callback,
            ("POST", "/logout"): self.logout,
        }.get((self.command, url.path))
        if action is None:
            return self.send(404, "<p>Not found.</p>")
        try:
            action()
        except requests.RequestException as error:
            self.send(502, f"<p>Cannot reach the provider at {self.rp.issuer}: {html.escape(str(error))}</p>")

    do_GET = do_POST = route

    def load_session(self) -> tuple[str, dict]:
        cookies = SimpleCookie(self.headers.get("Cookie", ""))
        sid = cookies[self.rp.cookie].value if self.rp.cookie in cookies else ""
        if sid not in self.rp.sessions:
            sid = secrets.token_urlsafe(32)
            self.rp.sessions[sid] = {}
        return sid, self.rp.sessions[sid]

    def send(self, status: int, body: str = "", location: str | None = None):
        self.send_response(status)
        self.send_header("Set-Cookie", f"{self.rp.cookie}={self.session_id}; Path=/; HttpOnly; SameSite=Lax")
        self.send_header("Cache-Control", "no-store")
        if location:
            self.send_header("Location", location)
        page = PAGE.format(title=html.escape(self.rp.client_id), body=body).encode()
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def redirect(self, location: str):
        self.send(303, location=location)

    def home(self):
        s = self.session
        if self.query.get("state") and self.query["state"] == s.pop("logout_state", None):
            s["note"] = "You are signed out (here and at the provider)."
        if "user" not in s and not s.get("checked"):
            return self.start_login(silent=True)  # first visit: already signed in at the provider?
        note = f"<p class=note>{html.escape(s.pop('note'))}</p>" if s.get("note") else ""
        if "user" not in s:
            return self.send(200, note + NOT_SIGNED_IN)
        user, claims = s["user"], s["claims"]
        account = f"{self.rp.issuer}/account/?" + urlencode({"client_id": self.rp.client_id})
        body = SIGNED_IN.format(
            account=html.escape(account),
            email=html.escape(str(user.get("email", user["sub"]))),
            userinfo=html.escape(json.dumps(user, indent=2, ensure_ascii=False)),
            claims=html.escape(json.dumps(claims, indent=2, ensure_ascii=False)),
        )
        self.send(200, note + body)

    def login(self):
        self.start_login(silent=self.query.get("prompt") == "none")

    def start_login(self, *, silent: bool):
        """OIDC Core §3.1.2.1: a fresh state, nonce and PKCE verifier for every request."""
        verifier, nonce = generate_token(64), generate_token(32)
        extra = {"prompt": "none"} if silent else {}
        url, state = self.rp.client().create_authorization_url(
            self.rp.metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
        )
        self.session["pending"] = {"state": state, "nonce": nonce, "verifier": verifier, "silent": silent}
        self.redirect(url)

    def callback(self):
        s, q, meta = self.session, self.query, self.rp.metadata
        pending = s.pop("pending", None)
        if pending is None or q.get("state") != pending["state"]:
            return self.send(400, "<p>Unexpected or replayed response (state mismatch).</p>")
        if meta.get("authorization_response_iss_parameter_supported") and q.get("iss") != meta["issuer"]:
            return self.send(400, "<p>Response from the wrong issuer (RFC 9207).</p>")
        s["checked"] = True
        if "error" in q:
            if pending["silent"] and q["error"] in SILENT_ERRORS:
                self.forget()  # the provider has no session for this visitor: "not signed in"
                return self.redirect("/")
            return self.send(400, f"<p>Sign-in failed: <code>{html.escape(q['error'])}</code></p>")
        client = self.rp.client()
        try:
            token = client.fetch_token(
                authorization_response=self.rp.base_url + self.path,
                state=pending["state"],
                code_verifier=pending["verifier"],
            )
            claims = client.parse_id_token(  # signature (JWKS, kid), iss, aud, exp, nonce, at_hash
                token,
                nonce=pending["nonce"],
                claims_options={
                    "iss": {"essential": True, "value": meta["issuer"]},
                    "aud": {"essential": True, "value": self.rp.client_id},
                },
            )
            user = client.userinfo()
        except Exception as error:  # noqa: BLE001 - a demo shows what went wrong instead of a stack trace
            return self.send(400, f"<p>Sign-in failed: <code>{html.escape(repr(error))}</code></p>")
        s.update(token=dict(token), claims=dict(claims), user=dict(user))
        self.redirect("/")

    def logout(self):
        """OpenID Connect RP-Initiated Logout 1.0: forget the session here, then at the provider."""
        id_token = self.session.get("token", {}).get("id_token")
        self.forget()
        if not id_token:
            return self.redirect("/")
        logout = self.rp.client().create_logout_url(
            post_logout_redirect_uri=self.rp.base_url + "/", id_token_hint=id_token
        )
        self.session["logout_state"] = logout["state"]
        self.redirect(logout["url"])

    def forget(self):
        for key in ("user", "claims", "token"):
            self.session.pop(key, None)


PAGE = """<!doctype html><html><head><meta charset=utf-8><title>{title}</title>
<style>body{{font:16px system-ui;max-width:46rem;margin:2rem auto;padding:0 1rem}}
pre{{background:#f4f4f4;padding:1rem;overflow:auto}}.note{{color:#2e7d32}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""
NOT_SIGNED_IN = """<p id=status>Not signed in.</p>
<form action=/login><button>Sign in with Member ID</button></form>
<p><a href="/login?prompt=none">Check again silently</a></p>"""
SIGNED_IN = """<p id=status>Signed in as <strong id=email>{email}</strong>.</p>
<form method=post action=/logout><button>Sign out</button></form>
<p><a id=my-account href="{account}">My account</a> (the provider's account page, with a way back here)</p>
<p><a href="/login?prompt=none">Check the provider's session silently</a></p>
<h2>Userinfo</h2><pre id=userinfo>{userinfo}</pre>
<h2>ID token claims</h2><pre id=claims>{claims}</pre>"""


def serve(*, issuer: str, client_id: str, client_secret: str, port: int) -> ThreadingHTTPServer:
    """Bind 127.0.0.1:port (0 picks a free port) and attach a relying party to the server."""
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    base_url = f"http://127.0.0.1:{server.server_port}"
    server.rp = RelyingParty(
        issuer=issuer, client_id=client_id, client_secret=client_secret, base_url=base_url
    )
    print(f"{client_id}: listening on {base_url}", flush=True)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuer", default="http://127.0.0.1:8000")
    parser.add_argument("--client-id", default="demo-miles")
    parser.add_argument("--client-secret", help="default: the demo client's, from var/demo.json")
    parser.add_argument("--port", type=int, help="default: 9001 (demo-miles) or 9002 (demo-grocery)")
    parser.add_argument("--both", action="store_true", help="demo-miles on :9001 and demo-grocery on :9002")
    args = parser.parse_args()

    if args.both:
        wanted = [(client_id, port, None) for client_id, port in DEMO_CLIENTS.items()]
    else:
        port = args.port if args.port is not None else DEMO_CLIENTS.get(args.client_id, 9001)
        wanted = [(args.client_id, port, args.client_secret)]
    demo = json.loads(DEMO_FILE.read_text()) if DEMO_FILE.exists() else {"clients": {}}
    servers = []
    for client_id, port, secret in wanted:
        secret = secret or demo["clients"].get(client_id, {}).get("client_secret")
        if not secret:
            parser.error(f"no --client-secret for {client_id} and none in {DEMO_FILE} (run `make run` first)")
        servers.append(serve(issuer=args.issuer, client_id=client_id, client_secret=secret, port=port))

    for server in servers[:-1]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        servers[-1].serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
