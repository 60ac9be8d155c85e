"""The staff app's privacy plan (see ``consent.privacy.registry``).

The staff audit log is evidence of what staff did, so its entries stay on erasure. What goes
is the link to the person: for an erased member, ``member`` and (when the target was the
account itself) the target id; for an erased staff member, ``actor`` with their IP address and
device. A legal hold on the security log keeps the links until it ends. The entries' reasons
are the staff member's words and stay. The member's export lists when staff looked at or changed
their data and why, without naming the staff member.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from consent.privacy import registry as privacy

SECURITY_LOG = "security_log"  # registered by the accounts plan


def _entries():
    from staff.models import AuditEntry

    return AuditEntry


def export(user) -> dict:
    entries = _entries().objects.filter(member=user).select_related("target_type").order_by("created", "id")
    return {
        "staff_access": [
            {
                "time": e.created.isoformat(),
                "action": e.action,
                "what": e.target_type.model if e.target_type_id else "",
                "reason": e.reason,
            }
            for e in entries
        ]
    }


def _forget_member(ctx) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType

    from staff.models import Customer

    AuditEntry = _entries()
    types = ContentType.objects.get_for_models(get_user_model(), Customer, for_concrete_models=False)
    targets = AuditEntry.objects.filter(
        target_type__in=list(types.values()),
        object_id=str(ctx.user_ref),
    ).update(object_id="")
    links = AuditEntry.objects.filter(member_id=ctx.user_ref).update(member=None)
    return {"pseudonymised": links, "targets": targets}


def _forget_actor(ctx) -> dict:
    changed = _entries().objects.filter(actor_id=ctx.user_ref).update(actor=None, actor_ip=None, actor_user_agent="")
    return {"pseudonymised": changed}


privacy.plan_register(
    privacy.Plan(
        name="staff",
        title=_("Staff access to your data"),
        models=("staff.AuditEntry",),
        export=export,
        steps=(
            privacy.Step(
                "audit_member_link",
                _forget_member,
                action=privacy.PSEUDONYMISE,
                hold_category=SECURITY_LOG,
                description="staff audit entries stay; the link to the member goes",
            ),
            privacy.Step(
                "audit_actor_link",
                _forget_actor,
                action=privacy.PSEUDONYMISE,
                hold_category=SECURITY_LOG,
                description="for an erased staff member: the link, IP address and device go",
            ),
        ),
        labels={"staff_access": _("Staff access to your data")},
        page_order=900,
    )
)
