"""Social login providers configured from the environment.

Each provider reads ``<NAME>_CLIENT_ID`` and ``<NAME>_CLIENT_SECRET`` (and more where the
provider needs it); a provider without them can still be configured in the admin
(*Social accounts → Social applications*), where it gets the same provider-level settings
below. Configure each provider in one place only: two apps for one provider make allauth
refuse to choose.

Generic OpenID Connect upstreams (a partner's or a group company's IdP) come from
``OIDC_UPSTREAMS``, a JSON list of ``{"id", "name", "server_url", "client_id", "secret"}``
objects (optional: ``"scope"``, ``"token_auth_method"``, ``"pkce"``, ``"issuer"``).
Yahoo! JAPAN is one of them with a fixed issuer.

This module is imported by ``idp/settings.py``, before Django is set up: keep its imports light.
"""

from __future__ import annotations

import ipaddress
import json
import re
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

# Our stricter OpenID Connect provider (signature, nonce, issuer and sub checks); see
# accounts/social/oidc/provider.py. allauth swaps it in for its own "openid_connect" class.
OIDC_PROVIDER_CLASS = "accounts.social.oidc.provider.OpenIDConnectProvider"

YAHOOJP_ID = "yahoojp"
YAHOOJP_ISSUER = "https://auth.login.yahoo.co.jp/yconnect/v2"

_PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_RESERVED_IDS = {"google", "apple", "facebook", "line", "openid_connect", YAHOOJP_ID}


class ProviderConfigError(ImproperlyConfigured):
    """A social login setting in the environment is malformed (raised at start-up)."""


def providers_from_env(env) -> dict:
    """``SOCIALACCOUNT_PROVIDERS`` for allauth, from environment variables.

    ``env`` is a django-environ ``Env`` (anything with ``str(name, default=...)`` works).
    Provider-level settings are always present so that apps added in the admin behave the
    same as apps configured here.
    """

    def var(name: str) -> str:
        return (env.str(name, default="") or "").strip()

    providers: dict = {
        "google": {"OAUTH_PKCE_ENABLED": True},
        "apple": {},
        # Facebook does not say whether it verified an address: never trust it to match.
        "facebook": {"METHOD": "oauth2", "SCOPE": ["email", "public_profile"], "VERIFIED_EMAIL": False},
        # allauth's LINE adapter reads the email from the ID token only when "email" is in SCOPE.
        "line": {"SCOPE": ["profile", "openid", "email"], "OAUTH_PKCE_ENABLED": True},
        "openid_connect": {"provider_class": OIDC_PROVIDER_CLASS, "OAUTH_PKCE_ENABLED": True},
    }

    for name, provider, label in (
        ("GOOGLE", "google", "Google"),
        ("FACEBOOK", "facebook", "Facebook"),
        ("LINE", "line", "LINE"),
    ):
        client_id, secret = var(f"{name}_CLIENT_ID"), var(f"{name}_CLIENT_SECRET")
        if client_id or secret:
            _require(name, {f"{name}_CLIENT_ID": client_id, f"{name}_CLIENT_SECRET": secret})
            providers[provider]["APPS"] = [{"name": label, "client_id": client_id, "secret": secret, "settings": {}}]

    apple = {
        "client_id": var("APPLE_CLIENT_ID"),  # the Services ID, e.g. com.example.id
        "team_id": var("APPLE_TEAM_ID"),
        "key_id": var("APPLE_KEY_ID"),
        "private_key": _pem(var("APPLE_PRIVATE_KEY")),
    }
    if any(apple.values()):
        _require("APPLE", {f"APPLE_{key.upper()}": value for key, value in apple.items()})
        providers["apple"]["APPS"] = [
            {
                "name": "Apple",
                "client_id": apple["client_id"],
                "secret": apple["key_id"],
                "key": apple["team_id"],
                "settings": {"certificate_key": apple["private_key"]},
            }
        ]

    oidc_apps = []
    client_id, secret = var("YAHOOJP_CLIENT_ID"), var("YAHOOJP_CLIENT_SECRET")
    if client_id or secret:
        _require("YAHOOJP", {"YAHOOJP_CLIENT_ID": client_id, "YAHOOJP_CLIENT_SECRET": secret})
        oidc_apps.append(
            {
                "provider_id": YAHOOJP_ID,
                "name": "Yahoo! JAPAN",
                "client_id": client_id,
                "secret": secret,
                "settings": {"server_url": YAHOOJP_ISSUER, "scope": ["openid", "profile", "email"]},
            }
        )
    oidc_apps.extend(oidc_upstreams_from_json(var("OIDC_UPSTREAMS")))
    seen: set[str] = set()
    for app in oidc_apps:
        if app["provider_id"] in seen:
            raise ProviderConfigError(f"OIDC_UPSTREAMS: provider id {app['provider_id']!r} is used twice")
        seen.add(app["provider_id"])
    if oidc_apps:
        providers["openid_connect"]["APPS"] = oidc_apps
    return providers


def oidc_upstreams_from_json(raw: str) -> list[dict]:
    """Parse ``OIDC_UPSTREAMS`` into allauth app dicts; malformed input is a start-up error."""
    if not raw:
        return []
    try:
        items = json.loads(raw)
    except ValueError as e:
        raise ProviderConfigError(f"OIDC_UPSTREAMS is not valid JSON: {e}") from e
    if not isinstance(items, list):
        raise ProviderConfigError("OIDC_UPSTREAMS must be a JSON list of objects")
    apps = []
    for index, item in enumerate(items):
        where = f"OIDC_UPSTREAMS[{index}]"
        if not isinstance(item, dict):
            raise ProviderConfigError(f"{where} must be an object")
        missing = [k for k in ("id", "name", "server_url", "client_id") if not item.get(k)]
        if missing:
            raise ProviderConfigError(f"{where}: missing {', '.join(missing)}")
        provider_id = str(item["id"])
        if not _PROVIDER_ID.match(provider_id) or provider_id in _RESERVED_IDS:
            raise ProviderConfigError(
                f"{where}: id {provider_id!r} must be lower-case letters, digits, - or _ "
                f"and not one of {', '.join(sorted(_RESERVED_IDS))}"
            )
        server_url = str(item["server_url"]).rstrip("/")
        if not is_acceptable_endpoint(server_url):
            raise ProviderConfigError(f"{where}: server_url must be https:// (http only on loopback)")
        settings: dict = {"server_url": server_url}
        if item.get("scope"):
            scope = item["scope"]
            settings["scope"] = scope.split() if isinstance(scope, str) else list(scope)
        if item.get("token_auth_method"):
            if item["token_auth_method"] not in ("client_secret_basic", "client_secret_post"):
                raise ProviderConfigError(f"{where}: token_auth_method must be client_secret_basic or _post")
            settings["token_auth_method"] = item["token_auth_method"]
        if "pkce" in item:
            settings["oauth_pkce_enabled"] = bool(item["pkce"])
        if item.get("issuer"):
            settings["issuer"] = str(item["issuer"])
        apps.append(
            {
                "provider_id": provider_id,
                "name": str(item["name"])[:40],
                "client_id": str(item["client_id"]),
                "secret": str(item.get("secret", "")),
                "settings": settings,
            }
        )
    return apps


def is_acceptable_endpoint(url: str) -> bool:
    """https, or http to a loopback host (development and the tests' fake upstream)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _pem(value: str) -> str:
    """A PEM key from one environment line: ``\\n`` escapes become line breaks."""
    return value.replace("\\n", "\n").strip()


def _require(prefix: str, values: dict[str, str]) -> None:
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ProviderConfigError(f"{prefix} sign-in is half configured: set {', '.join(missing)}")
