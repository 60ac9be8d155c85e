"""Reads handed to views and claims."""

from __future__ import annotations

from idp.models import ClientAuthorization


def client_authorization_covers(user, client, scopes: set[str]) -> bool:
    current = ClientAuthorization.objects.filter(user=user, client=client, revoked_at__isnull=True).first()
    return current is not None and current.covers(scopes)


def client_authorizations_for(user):
    return (
        ClientAuthorization.objects.filter(user=user, revoked_at__isnull=True)
        .select_related("client")
        .order_by("-updated")
    )
