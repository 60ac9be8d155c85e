"""Clients by ``client_id``, kept per worker process for a few seconds.

Every token request, every ``/authorize`` and every hosted page started by a relying party needs
its client; read from the database each time, that was 1 query per token request and 13 per login
(see docs/benchmarks.md). The cache is a plain dict per process (threads share it; the objects are
only read). Saving or deleting a client through the ORM clears it in the saving process; other
processes see the change within ``IDP_CLIENT_CACHE_SECONDS``.
"""

from __future__ import annotations

import time

from idp.app_settings import app_settings

_MAX_ENTRIES = 10_000
_cache: dict[str, tuple[float, object]] = {}


def client_get(client_id: str):
    """The client with this ``client_id``, or ``None``; at most ``IDP_CLIENT_CACHE_SECONDS`` old."""
    from idp.models import Client

    if not isinstance(client_id, str) or not client_id or "\x00" in client_id or len(client_id) > 255:
        return None
    ttl = app_settings.CLIENT_CACHE_SECONDS
    now = time.monotonic()
    hit = _cache.get(client_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    client = Client.objects.filter(client_id=client_id).first()
    if ttl > 0:
        if len(_cache) >= _MAX_ENTRIES:
            _cache.clear()
        _cache[client_id] = (now + ttl, client)
    return client


def client_cache_clear(**kwargs) -> None:
    """Receiver for ``post_save``/``post_delete`` of clients; also used by tests."""
    _cache.clear()
