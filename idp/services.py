"""State changes of the provider: consent grants, code replay, audit."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from idp.models import AuditEvent, ClientAuthorization, CodeIssuance


def audit_record(*, kind: str, user=None, client=None, data: dict | None = None) -> AuditEvent:
    return AuditEvent.objects.create(kind=kind, user=user, client=client, data=data or {})


@transaction.atomic
def client_authorization_grant(*, user, client, scopes: set[str]) -> ClientAuthorization:
    """Remember that ``user`` consented to ``client`` for ``scopes`` (merged with earlier scopes)."""
    current = (
        ClientAuthorization.objects.select_for_update()
        .filter(user=user, client=client, revoked_at__isnull=True)
        .first()
    )
    if current is None:
        current = ClientAuthorization.objects.create(user=user, client=client, scope=" ".join(sorted(scopes)))
    elif not current.covers(scopes):
        current.scope = " ".join(sorted(set(current.scope.split()) | scopes))
        current.save(update_fields=["scope", "updated"])
    audit_record(kind="client.consent_granted", user=user, client=client, data={"scopes": sorted(scopes)})
    return current


@transaction.atomic
def client_authorization_revoke(*, user, client) -> int:
    """Withdraw consent to ``client`` and revoke every token it holds for ``user``."""
    revoked = ClientAuthorization.objects.filter(user=user, client=client, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    for rt in get_refresh_token_model().objects.filter(user=user, application=client, revoked__isnull=True):
        rt.revoke()
    get_access_token_model().objects.filter(user=user, application=client).delete()
    audit_record(kind="client.consent_revoked", user=user, client=client)
    return revoked


@transaction.atomic
def code_replay_revoke(*, issuance: CodeIssuance) -> None:
    """RFC 6749 §4.1.2: a replayed authorization code revokes the tokens issued from it."""
    issuance = CodeIssuance.objects.select_for_update().get(pk=issuance.pk)
    if issuance.token_family:
        get_refresh_token_model().revoke_family(issuance.token_family)
    if issuance.access_token_id:
        get_access_token_model().objects.filter(pk=issuance.access_token_id).delete()
    if issuance.replayed_at is None:
        issuance.replayed_at = timezone.now()
        issuance.save(update_fields=["replayed_at"])
    audit_record(kind="oauth.code_replayed", user=issuance.user, client=issuance.client)
