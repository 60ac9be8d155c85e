"""Protocol policy hooks that settings refer to (importable before apps are ready)."""

from __future__ import annotations


def pkce_required(client_id: str) -> bool:
    """RFC 9700 §2.1.1: PKCE for public clients always, for confidential ones unless disabled per client."""
    from idp.oauth.clients import client_get

    client = client_get(client_id)
    if client is None:
        return True
    return client.client_type == "public" or client.require_pkce
