"""Programs, their tiers and the program each client acts for, kept per worker process for a few seconds.

Every API posting and balance read needs its program, and every earn the program's tiers; read
from the database each time, that was two statements per request (see ``bench/loyalty.py``). The
pattern is the one of ``idp/oauth/clients.py``: a plain dict per process (threads share it; the
cached objects are only read, never saved). Saving or deleting a Program, a Tier or a
ProgramClient through the ORM clears it in the saving process, at once and again when the
transaction commits; other processes see the change within ``LOYALTY_PROGRAM_CACHE_SECONDS``.

What a stale entry can do, for those few seconds: a new tier threshold is applied to earns a little
late (the nightly recomputation sets every tier from the rules anyway), and a client just unlinked
from its program can still post for it. Set the setting to 0 to read every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import transaction

from loyalty.app_settings import loyalty_settings

_MAX_ENTRIES = 10_000
_MISSING = object()
_cache: dict[tuple, tuple[float, object]] = {}


def _cached(key: tuple, load: Callable[[], object]):
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    ttl = loyalty_settings.PROGRAM_CACHE_SECONDS
    if ttl > 0:
        if len(_cache) >= _MAX_ENTRIES:
            _cache.clear()
        _cache[key] = (now + ttl, value)
    return value


def program_by_slug(slug: str):
    """The program with this code, or ``None``."""
    from loyalty.models import Program

    return _cached(("slug", slug), lambda: Program.objects.filter(slug=slug).first())


def program_of_client_id(client_id: int):
    """The program the client with this primary key acts for (an active link), or ``None``."""
    from loyalty.models import ProgramClient

    def load():
        link = ProgramClient.objects.filter(client_id=client_id, is_active=True).select_related("program").first()
        return link.program if link is not None else None

    return _cached(("client", client_id), load)


def tiers_of(program_id: int) -> tuple:
    """The program's tiers, lowest threshold first."""
    from loyalty.models import Tier

    return _cached(
        ("tiers", program_id), lambda: tuple(Tier.objects.filter(program_id=program_id).order_by("min_points"))
    )


def cache_clear(**kwargs) -> None:
    """Receiver for ``post_save``/``post_delete`` of programs, tiers and program clients; also for tests."""
    _cache.clear()
    if kwargs.get("sender") is not None:
        # A read in the same transaction may cache the uncommitted rows again; clear once more when they commit.
        transaction.on_commit(_cache.clear, using=kwargs.get("using"))
