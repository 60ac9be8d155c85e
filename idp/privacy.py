"""The provider's privacy plan: consents to apps, sign-ins at apps, OAuth tokens and the audit
trail (see ``consent.privacy.registry`` for the interface). Token values are never exported."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from consent.privacy import registry as privacy

SECURITY_LOG = "security_log"  # registered by accounts/privacy.py


def export(user) -> dict:
    from oauth2_provider.models import DeviceGrant, get_access_token_model, get_id_token_model, get_refresh_token_model

    from idp.models import AuditEvent, Client, ClientAuthorization, CodeIssuance

    return {
        "connected_apps": privacy.rows(
            ClientAuthorization.objects.filter(user=user).order_by("pk"),
            ["client__name", "client__client_id", "scope", "created", "updated", "revoked_at"],
        ),
        "sign_ins_at_apps": privacy.rows(
            CodeIssuance.objects.filter(user=user).order_by("pk"),
            ["client__name", "created", "auth_time", "acr", "amr"],
        ),
        "tokens": {
            "refresh_tokens": privacy.rows(
                get_refresh_token_model().objects.filter(user=user).order_by("pk"),
                ["application__name", "created", "revoked"],
            ),
            "access_tokens": privacy.rows(
                get_access_token_model().objects.filter(user=user).order_by("pk"),
                ["application__name", "scope", "created", "expires"],
            ),
            "id_tokens": privacy.rows(
                get_id_token_model().objects.filter(user=user).order_by("pk"),
                ["application__name", "scope", "created", "expires"],
            ),
            "device_grants": privacy.rows(
                DeviceGrant.objects.filter(user=user).order_by("pk"), ["client_id", "scope", "status", "expires"]
            ),
        },
        "clients_owned": privacy.rows(Client.objects.filter(user=user).order_by("pk"), ["name", "client_id"]),
        "audit_trail": privacy.rows(
            AuditEvent.objects.filter(user=user).order_by("created", "pk"), ["kind", "created", "client__name", "data"]
        ),
    }


def erase_tokens(ctx: privacy.StepContext) -> dict:
    from oauth2_provider.models import (
        DeviceGrant,
        get_access_token_model,
        get_grant_model,
        get_id_token_model,
        get_refresh_token_model,
    )

    total = 0
    for model in (
        get_access_token_model(),
        get_refresh_token_model(),
        get_id_token_model(),
        get_grant_model(),
        DeviceGrant,
    ):
        total += model.objects.filter(user_id=ctx.user_ref).delete()[0]
    return {"deleted": total}


D, P = privacy.DELETE, privacy.PSEUDONYMISE
privacy.plan_register(
    privacy.Plan(
        name="idp",
        title=_("Apps you signed in to"),
        page_order=200,
        order=100,
        models=(
            "idp.Client",
            "idp.ClientAuthorization",
            "idp.CodeIssuance",
            "idp.AuditEvent",
            "oauth2_provider.AccessToken",
            "oauth2_provider.RefreshToken",
            "oauth2_provider.IDToken",
            "oauth2_provider.Grant",
            "oauth2_provider.DeviceGrant",
        ),
        # A client's owner (staff) is detached below; tokens and grants are personal through
        # their own user link, not because a client has an owner.
        boundary=(settings.OAUTH2_PROVIDER_APPLICATION_MODEL,),
        export=export,
        steps=(
            privacy.Step("oauth_tokens", erase_tokens, D, description="access, refresh and ID tokens, grants"),
            privacy.Step("authorizations", privacy.delete("idp.ClientAuthorization"), D),
            privacy.Step("code_issuances", privacy.delete("idp.CodeIssuance"), D),
            privacy.Step("owned_clients", privacy.pseudonymise("idp.Client", set_fields={"user": None}), P),
            privacy.Step(
                "audit_trail",
                privacy.pseudonymise("idp.AuditEvent", set_fields={"user": None}),
                P,
                hold_category=SECURITY_LOG,
            ),
        ),
        corrections=((_("Connected apps"), "connected_apps"),),
        labels={
            "connected_apps": _("Apps you allowed"),
            "sign_ins_at_apps": _("Sign-ins at apps"),
            "tokens": _("Tokens held by apps"),
            "clients_owned": _("Apps you manage"),
            "audit_trail": _("Audit trail"),
        },
    )
)
