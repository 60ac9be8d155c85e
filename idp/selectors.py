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
