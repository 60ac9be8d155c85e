"""Fixes client_cache and pkce: importable before apps are ready (settings refer to it)."""

from __future__ import annotations

import time

# The fixes bench.experiments.settings knows, in the order docs/benchmarks.md lists them.
ALL = ["savepoint", "signal", "client_cache", "idtoken", "pkce", "anon_session", "redis", "healthcheck"]

CLIENT_TTL = 30.0
_clients: dict = {}


def cached_client(client_id: str):
    """Client by client_id, kept for CLIENT_TTL seconds in this process.

    A changed or deactivated client takes effect in every worker within CLIENT_TTL.
    """
    from idp.models import Client

    now = time.monotonic()
    hit = _clients.get(client_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    client = Client.objects.filter(client_id=client_id).first()
    _clients[client_id] = (now + CLIENT_TTL, client)
    return client


def pkce_required_cached(client_id: str) -> bool:
    from django.conf import settings

    from idp.oauth.policy import pkce_required

    if "pkce" not in settings.FIXES:
        return pkce_required(client_id)
    client = cached_client(client_id)
    return client is None or client.client_type == "public" or client.require_pkce
