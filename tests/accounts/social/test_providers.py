"""Providers configured from the environment, and where their buttons send the browser.

No network: the built-in providers' authorization URLs are fixed; Yahoo! JAPAN's comes from
its discovery document, which a fake transport serves here.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
import requests
from allauth.socialaccount.adapter import get_adapter

from accounts.social.adapter import SocialAccountAdapter
from accounts.social.conf import ProviderConfigError, providers_from_env
from tests.conftest import query_of

# As it sits in an environment file: one line, with a literal backslash-n for each line break.
APPLE_KEY = "-----BEGIN PRIVATE KEY-----\\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49\\n-----END PRIVATE KEY-----"


def upstreams(**item) -> str:
    return json.dumps(
        [{"id": "x", "name": "X", "server_url": "https://idp.example", "client_id": "c", **item}]
    )


class Env:
    def __init__(self, **values: str) -> None:
        self.values = values

    def str(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)


ENV = Env(
    GOOGLE_CLIENT_ID="google-client.apps.googleusercontent.com",
    GOOGLE_CLIENT_SECRET="google-secret",
    LINE_CLIENT_ID="1650000000",
    LINE_CLIENT_SECRET="line-secret",
    FACEBOOK_CLIENT_ID="fb-app-id",
    FACEBOOK_CLIENT_SECRET="fb-secret",
    APPLE_CLIENT_ID="com.example.memberid",
    APPLE_TEAM_ID="TEAM123456",
    APPLE_KEY_ID="KEY1234567",
    APPLE_PRIVATE_KEY=APPLE_KEY,
    YAHOOJP_CLIENT_ID="yahoo-client",
    YAHOOJP_CLIENT_SECRET="yahoo-secret",
    OIDC_UPSTREAMS=json.dumps(
        [
            {
                "id": "group-idp",
                "name": "Group ID",
                "server_url": "https://id.group.example/",
                "client_id": "member-id",
                "secret": "s",
                "token_auth_method": "client_secret_basic",
            }
        ]
    ),
)


@pytest.fixture
def env_providers(settings, db):
    settings.SOCIALACCOUNT_PROVIDERS = providers_from_env(ENV)
    return settings.SOCIALACCOUNT_PROVIDERS


def press(client, provider_login_url: str) -> tuple[str, dict]:
    response = client.post(provider_login_url, {"process": "login"})
    assert response.status_code == 302, response.content[:500]
    location = response["Location"]
    parts = urlsplit(location)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", query_of(location)


def test_nothing_configured_gives_provider_settings_only():
    providers = providers_from_env(Env())
    assert all("APPS" not in config for config in providers.values())
    assert (
        providers["openid_connect"]["provider_class"] == "accounts.social.oidc.provider.OpenIDConnectProvider"
    )


def test_env_configures_every_provider():
    providers = providers_from_env(ENV)
    assert providers["google"]["APPS"][0]["client_id"] == "google-client.apps.googleusercontent.com"
    assert providers["line"]["APPS"][0]["secret"] == "line-secret"
    assert providers["facebook"]["APPS"][0]["client_id"] == "fb-app-id"
    [apple] = providers["apple"]["APPS"]
    assert (apple["client_id"], apple["secret"], apple["key"]) == (
        "com.example.memberid",
        "KEY1234567",
        "TEAM123456",
    )
    assert apple["settings"]["certificate_key"].startswith("-----BEGIN PRIVATE KEY-----\nMIG")
    yahoo, group = providers["openid_connect"]["APPS"]
    assert yahoo["provider_id"] == "yahoojp"
    assert yahoo["settings"]["server_url"] == "https://auth.login.yahoo.co.jp/yconnect/v2"
    assert (
        group["provider_id"] == "group-idp" and group["settings"]["server_url"] == "https://id.group.example"
    )
    assert group["settings"]["token_auth_method"] == "client_secret_basic"


@pytest.mark.parametrize(
    "values, message",
    [
        ({"GOOGLE_CLIENT_ID": "only-the-id"}, "GOOGLE_CLIENT_SECRET"),
        ({"APPLE_CLIENT_ID": "com.example", "APPLE_TEAM_ID": "T"}, "APPLE_KEY_ID, APPLE_PRIVATE_KEY"),
        ({"OIDC_UPSTREAMS": "{not json"}, "not valid JSON"),
        ({"OIDC_UPSTREAMS": '{"id": "x"}'}, "JSON list"),
        ({"OIDC_UPSTREAMS": '[{"id": "x", "name": "X", "client_id": "c"}]'}, "missing server_url"),
        ({"OIDC_UPSTREAMS": upstreams(id="google")}, "must be lower-case"),
        ({"OIDC_UPSTREAMS": upstreams(id="Has Spaces")}, "must be lower-case"),
        ({"OIDC_UPSTREAMS": upstreams(server_url="http://idp.example")}, "https"),
        ({"OIDC_UPSTREAMS": upstreams(token_auth_method="private_key_jwt")}, "token_auth_method"),
        (
            {
                "OIDC_UPSTREAMS": json.dumps(
                    [{"id": "x", "name": "X", "server_url": "https://a", "client_id": "c"}] * 2
                ),
            },
            "used twice",
        ),
    ],
)
def test_malformed_configuration_is_a_startup_error(values, message):
    with pytest.raises(ProviderConfigError, match=message):
        providers_from_env(Env(**values))


def test_loopback_http_upstream_is_allowed_for_development():
    raw = json.dumps([{"id": "dev", "name": "Dev", "server_url": "http://127.0.0.1:9000", "client_id": "c"}])
    assert providers_from_env(Env(OIDC_UPSTREAMS=raw))["openid_connect"]["APPS"][0]["provider_id"] == "dev"


def test_google_button_goes_to_google(client, env_providers):
    url, query = press(client, "/accounts/google/login/")
    assert url == "https://accounts.google.com/o/oauth2/v2/auth"
    assert query["client_id"] == "google-client.apps.googleusercontent.com"
    assert query["redirect_uri"] == "http://testserver/accounts/google/login/callback/"
    assert query["response_type"] == "code" and query["state"]
    assert "email" in query["scope"].split()
    assert query["code_challenge_method"] == "S256"


def test_line_button_goes_to_line(client, env_providers):
    url, query = press(client, "/accounts/line/login/")
    assert url == "https://access.line.me/oauth2/v2.1/authorize"
    assert query["client_id"] == "1650000000"
    assert query["redirect_uri"] == "http://testserver/accounts/line/login/callback/"
    assert set(query["scope"].split()) == {"openid", "profile", "email"}
    assert query["code_challenge_method"] == "S256" and query["state"]


def test_apple_button_goes_to_apple(client, env_providers):
    url, query = press(client, "/accounts/apple/login/")
    assert url == "https://appleid.apple.com/auth/authorize"
    assert query["client_id"] == "com.example.memberid"
    assert query["redirect_uri"] == "http://testserver/accounts/apple/login/callback/"
    assert query["response_mode"] == "form_post"  # Apple posts back; allauth's callback is CSRF-exempt
    assert "email" in query["scope"].split() and query["state"]


def test_facebook_button_goes_to_facebook(client, env_providers):
    url, query = press(client, "/accounts/facebook/login/")
    assert url.startswith("https://www.facebook.com/v") and url.endswith("/dialog/oauth")
    assert query["client_id"] == "fb-app-id"
    assert query["redirect_uri"] == "http://testserver/accounts/facebook/login/callback/"


class _YahooDiscovery(requests.adapters.BaseAdapter):
    """A transport that answers Yahoo! JAPAN's discovery URL, and nothing else."""

    requested: list[str] = []

    def send(self, request, **kwargs):
        self.requested.append(request.url)
        response = requests.Response()
        response.request, response.url = request, request.url
        if request.url == "https://auth.login.yahoo.co.jp/yconnect/v2/.well-known/openid-configuration":
            issuer = "https://auth.login.yahoo.co.jp/yconnect/v2"
            body = {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorization",
                "token_endpoint": f"{issuer}/token",
                "userinfo_endpoint": "https://userinfo.yahooapis.jp/yconnect/v2/attribute",
                "jwks_uri": f"{issuer}/jwks",
            }
            response.status_code, response._content = 200, json.dumps(body).encode()
            response.headers["Content-Type"] = "application/json"
        else:
            response.status_code, response._content = 404, b"{}"
        return response

    def close(self):
        pass


def test_yahoo_japan_button_goes_to_yahoo_japan(client, env_providers, monkeypatch):
    transport = _YahooDiscovery()

    def session(self):
        s = requests.Session()
        s.mount("https://", transport)
        return s

    monkeypatch.setattr(SocialAccountAdapter, "get_requests_session", session)
    url, query = press(client, "/accounts/oidc/yahoojp/login/")
    assert transport.requested == [
        "https://auth.login.yahoo.co.jp/yconnect/v2/.well-known/openid-configuration"
    ]
    assert url == "https://auth.login.yahoo.co.jp/yconnect/v2/authorization"
    assert query["client_id"] == "yahoo-client"
    assert query["redirect_uri"] == "http://testserver/accounts/oidc/yahoojp/login/callback/"
    assert set(query["scope"].split()) == {"openid", "profile", "email"}
    assert query["nonce"] and query["code_challenge_method"] == "S256"


def test_login_page_lists_every_env_provider(client, env_providers):
    html = client.get("/accounts/login/").content.decode()
    for name in ("Google", "Apple", "Facebook", "LINE", "Yahoo! JAPAN", "Group ID"):
        assert f"Continue with {name}" in html
    assert {p.sub_id for p in get_adapter().list_providers(None)} >= {"google", "line", "apple", "yahoojp"}
