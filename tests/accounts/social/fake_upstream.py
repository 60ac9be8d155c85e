"""A small OpenID Connect provider on loopback, standing in for Google, a partner's IdP, ...

Serves discovery, JWKS, authorize (auto-consent, or an error such as a cancelled consent),
token (RS256 ID token from a key generated here) and userinfo, with switches to misbehave:
a wrong signature, nonce, issuer or audience, a failing token endpoint, a mixed-up userinfo.
Runs ``http.server`` in a thread: the test drives the browser side itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from jwcrypto import jwk, jwt


@cache
def rsa_key(name: str) -> jwk.JWK:
    """One RSA key per name per test session (generation is the slow part)."""
    return jwk.JWK.generate(kty="RSA", size=2048, kid=f"kid-{name}", alg="RS256", use="sig")


class FakeUpstream:
    client_id = "member-id-at-upstream"
    client_secret = "upstream-secret-" + "x" * 16

    def __init__(self) -> None:
        self.key = rsa_key("upstream")
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.subject: dict = {
            "sub": "upstream-user-1",
            "email": "new.member@example.com",
            "email_verified": True,
            "name": "Taro Yamada",
            "given_name": "Taro",
            "family_name": "Yamada",
        }
        # Switches to misbehave.
        self.authorize_error: str | None = None  # e.g. "access_denied" (cancelled consent)
        self.token_error: str | None = None  # e.g. "invalid_grant"
        self.id_token_overrides: dict = {}  # claim -> value; None removes the claim
        self.id_token_header: dict = {}  # e.g. {"alg": "HS256"}
        self.sign_with: jwk.JWK | None = None  # another key: the signature will not verify
        self.userinfo_overrides: dict = {}
        self.discovery_overrides: dict = {}
        self.iss_param: str | None = None  # RFC 9207 iss in the authorization response
        # What happened.
        self.authorize_requests: list[dict] = []
        self.token_requests: list[dict] = []
        self._codes: dict[str, dict] = {}
        self._access_tokens: dict[str, dict] = {}
        self._stopped = False
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeUpstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    # --- endpoints --------------------------------------------------------------------------------
    def discovery(self) -> dict:
        doc = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }
        doc.update(self.discovery_overrides)
        return doc

    def jwks(self) -> dict:
        return {"keys": [self.key.export_public(as_dict=True)]}

    def authorize(self, params: dict) -> tuple[int, dict, dict | None]:
        self.authorize_requests.append(params)
        if params.get("client_id") != self.client_id or not params.get("redirect_uri"):
            return 400, {}, {"error": "invalid_request"}
        back: dict = {"state": params.get("state", "")}
        if self.authorize_error:
            back["error"] = self.authorize_error
        else:
            code = secrets.token_urlsafe(16)
            self._codes[code] = {**params, "subject": dict(self.subject)}
            back["code"] = code
        if self.iss_param:
            back["iss"] = self.iss_param
        return 302, {"Location": f"{params['redirect_uri']}?{urlencode(back)}"}, None

    def token(self, form: dict, authorization: str) -> tuple[int, dict]:
        self.token_requests.append(form)
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization.startswith("Basic "):
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if client_id != self.client_id or secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        if self.token_error:
            return 400, {"error": self.token_error}
        grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        if grant.get("code_challenge"):
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["code_challenge"]:
                return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        access_token = secrets.token_urlsafe(24)
        self._access_tokens[access_token] = grant["subject"]
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(grant),
        }

    def id_token(self, grant: dict) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "exp": now + 300,
            "iat": now,
            "jti": secrets.token_hex(8),
            **grant["subject"],
        }
        if grant.get("nonce"):
            claims["nonce"] = grant["nonce"]
        for name, value in self.id_token_overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        key = self.sign_with or self.key
        header = {"alg": "RS256", "kid": self.key.get("kid"), **self.id_token_header}
        if header["alg"].startswith("HS"):
            key = jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(b"k" * 32).rstrip(b"=").decode())
        token = jwt.JWT(header=header, claims=claims)
        token.make_signed_token(key)
        return token.serialize()

    def userinfo(self, authorization: str) -> tuple[int, dict]:
        subject = self._access_tokens.get(authorization.removeprefix("Bearer "))
        if subject is None:
            return 401, {"error": "invalid_token"}
        return 200, {**subject, **self.userinfo_overrides}

    # --- the browser side ---------------------------------------------------------------------------
    def consent(self, authorize_url: str) -> str:
        """A browser at the upstream's authorize URL: it redirects back with a code (or an error)."""
        parts = urlsplit(authorize_url)
        assert f"{parts.scheme}://{parts.netloc}" == self.issuer, authorize_url
        with requests.Session() as browser:
            browser.trust_env = False  # no proxy between us and loopback
            response = browser.get(authorize_url, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        return response.headers["Location"]


def _handler_for(upstream: FakeUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # keep test output clean
            pass

        def _send(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
            payload = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            parts = urlsplit(self.path)
            if parts.path == "/.well-known/openid-configuration":
                self._send(200, upstream.discovery())
            elif parts.path == "/jwks":
                self._send(200, upstream.jwks())
            elif parts.path == "/authorize":
                status, headers, body = upstream.authorize(dict(parse_qsl(parts.query)))
                self._send(status, body, headers)
            elif parts.path == "/userinfo":
                self._send(*upstream.userinfo(self.headers.get("Authorization", "")))
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            if urlsplit(self.path).path == "/token":
                self._send(*upstream.token(form, self.headers.get("Authorization", "")))
            else:
                self._send(404, {"error": "not_found"})

    return Handler
