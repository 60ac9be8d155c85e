"""Social login providers configured from the environment.

Each provider reads ``<NAME>_CLIENT_ID`` and ``<NAME>_CLIENT_SECRET`` (and more where the
provider needs it); a provider without them can still be configured in the admin.
"""

from __future__ import annotations


def providers_from_env(env) -> dict:
    return {}
