"""Staff roles: the one place that says which permissions each role has.

Each role is a Django group of the same name; ``manage.py staff_roles`` (run by ``make setup``
and ``seed_demo``) creates the groups and sets their permissions to exactly these sets. Give a
staff member a role by adding them to the group (and ``is_staff``). ``superuser`` holds every
permission there is, including ``staff.unmask_personal_data``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

ALL = "__all__"


@dataclass(frozen=True)
class Role:
    key: str
    name: str  # the group's name (not translated: it is a stored value)
    title: object
    permissions: tuple[str, ...] | str


def _crud(label: str, *verbs: str) -> tuple[str, ...]:
    app, model = label.split(".")
    return tuple(f"{app}.{verb}_{model}" for verb in verbs)


SUPPORT_AGENT = Role(
    key="support_agent",
    name="Support agent",
    title=_("Support agent"),
    permissions=(
        "accounts.view_user",
        "accounts.view_usersession",
        "accounts.change_usersession",  # "Sign out the selected sessions"
        "accounts.view_securityevent",
        "staff.view_customer",
    ),
)

PRIVACY_OFFICER = Role(
    key="privacy_officer",
    name="Privacy officer",
    title=_("Privacy officer"),
    permissions=(
        *_crud("consent.erasurerequest", "view", "change"),
        *_crud("consent.exportrequest", "view", "change"),
        *_crud("idp.dailymetric", "view"),  # the dashboard (consent rates, erasures by state)
        *_crud("consent.legalhold", "view", "add", "change"),
        *_crud("consent.inactivitynotice", "view"),
        *_crud("consent.legaldocument", "view", "add", "change"),
        *_crud("consent.legaldocumentversion", "view", "add", "change"),
        "consent.publish_legaldocumentversion",
        *_crud("consent.legaldocumenttext", "view", "add", "change"),
        *_crud("consent.legalacceptance", "view"),
        *_crud("consent.purpose", "view", "add", "change"),
        *_crud("consent.purposetext", "view", "add", "change"),
        "consent.export_audience",
        *_crud("consent.consentrecord", "view"),
        *_crud("consent.consentstate", "view", "change"),
        "accounts.view_user",
        "staff.view_customer",
        "staff.view_auditentry",
        "staff.export_auditentry",
        "staff.unmask_personal_data",
    ),
)

LOYALTY_OPERATIONS = Role(
    key="loyalty_operations",
    name="Loyalty operations",
    title=_("Loyalty operations"),
    permissions=(
        *_crud("loyalty.program", "view", "add", "change"),
        *_crud("loyalty.tier", "view", "add", "change", "delete"),
        *_crud("loyalty.programclient", "view", "add", "change", "delete"),
        *_crud("loyalty.membership", "view"),
        "loyalty.adjust_points",
        *_crud("loyalty.ledgerentry", "view"),
        *_crud("loyalty.tierchange", "view"),
        *_crud("loyalty.earnlot", "view"),
        *_crud("loyalty.idempotencyrecord", "view"),
    ),
)

CLIENT_ADMINISTRATOR = Role(
    key="client_administrator",
    name="Client administrator",
    title=_("Client administrator"),
    permissions=(
        *_crud("idp.client", "view", "add", "change", "delete"),
        *_crud("accounts.attributedefinition", "view", "add", "change"),
        *_crud("accounts.attributechoice", "view", "add", "change", "delete"),
        *_crud("accounts.attributeaccess", "view", "add", "change", "delete"),
        *_crud("consent.webhooksubscription", "view", "add", "change"),
        "idp.export_config",  # reviews configuration; importing it (legal texts, purposes too) is the superuser's
    ),
)

SUPERUSER = Role(key="superuser", name="Superuser", title=_("Superuser"), permissions=ALL)

ROLES: dict[str, Role] = {
    role.key: role for role in (SUPPORT_AGENT, PRIVACY_OFFICER, LOYALTY_OPERATIONS, CLIENT_ADMINISTRATOR, SUPERUSER)
}
