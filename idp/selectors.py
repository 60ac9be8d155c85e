"""Reads handed to views and claims."""

from __future__ import annotations

from oauth2_provider.scopes import get_scopes_backend

from idp.models import ClientAuthorization


def client_authorization_covers(user, client, scopes: set[str]) -> bool:
    current = ClientAuthorization.objects.filter(user=user, client=client, revoked_at__isnull=True).first()
    return current is not None and current.covers(scopes)


def client_authorizations_for(user) -> list[ClientAuthorization]:
    """The member's connected apps, each with ``scope_descriptions`` in the member's language."""
    descriptions = get_scopes_backend().get_all_scopes()
    grants = list(
        ClientAuthorization.objects.filter(user=user, revoked_at__isnull=True)
        .select_related("client")
        .order_by("-updated")
    )
    for grant in grants:
        grant.scope_descriptions = [descriptions.get(s, s) for s in grant.scope.split() if s != "openid"]
    return grants


def client_home_url(client_id: str | None) -> tuple[str, str] | None:
    """``(client name, its origin)`` for a "Back to …" link, or ``None``.

    The link only ever points at the origin of the client's first registered redirect URI (an
    http(s) URL the client registered with us), never at a URL taken from the request: the
    account page cannot be turned into an open redirect.
    """
    from urllib.parse import urlsplit

    from idp.oauth.clients import client_get

    client = client_get(client_id) if client_id else None
    if client is None:
        return None
    uris = client.redirect_uris.split()
    if not uris:
        return None
    parts = urlsplit(uris[0])
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return client.name, f"{parts.scheme}://{parts.netloc}/"
