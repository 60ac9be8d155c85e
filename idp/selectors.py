"""Reads handed to views and claims."""

from __future__ import annotations

from accounts.services import ACR_LEVELS
from idp.models import ClientAuthorization


def client_authorization_covers(user, client, scopes: set[str]) -> bool:
    current = ClientAuthorization.objects.filter(user=user, client=client, revoked_at__isnull=True).first()
    return current is not None and current.covers(scopes)


def acr_satisfied(current_acr: str, acr_values: str) -> bool:
    """True when the current acr meets the lowest level among the requested ``acr_values``."""
    requested = [ACR_LEVELS[v] for v in acr_values.split() if v in ACR_LEVELS]
    if not requested:
        return True
    return ACR_LEVELS.get(current_acr, 0) >= min(requested)


def client_authorizations_for(user):
    return (
        ClientAuthorization.objects.filter(user=user, revoked_at__isnull=True)
        .select_related("client")
        .order_by("-updated")
    )
