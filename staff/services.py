"""Every write of the staff app: audit entries, break glass, role groups."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from staff import masking
from staff.models import AuditEntry
from staff.roles import ALL, ROLES

Action = AuditEntry.Action


def _actor_of(request) -> dict:
    if request is None:
        return {}
    from accounts.security.geo import client_ip

    user = getattr(request, "user", None)
    return {
        "actor": user if user is not None and user.is_authenticated else None,
        "actor_ip": client_ip(request),
        "actor_user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
    }


def audit_write(
    *,
    request,
    action: str,
    target=None,
    member_id: int | None = None,
    reason: str = "",
    fields: Iterable[str] = (),
    name: str = "",
    details: dict | None = None,
) -> AuditEntry:
    """Append one entry. ``target`` is a model instance (or a model class for list-wide actions);
    ``member_id`` defaults to the target's member. Only field *names* go in, never values."""
    target_type = None
    object_id = ""
    if target is not None:
        target_type = ContentType.objects.get_for_model(target, for_concrete_model=False)
        if not isinstance(target, type) and target.pk is not None:
            object_id = str(target.pk)
        if member_id is None and not isinstance(target, type):
            member_id = masking.member_id_of(target)
    return AuditEntry.objects.create(
        action=action,
        name=name[:100],
        target_type=target_type,
        object_id=object_id,
        member_id=member_id,
        reason=reason,
        fields=sorted(set(fields)),
        details=details or {},
        **_actor_of(request),
    )


@transaction.atomic
def break_glass(*, request, member, reason: str) -> AuditEntry:
    """Unmask one member for this staff session for a limited time, recording why."""
    expires = masking.unmask_grant(request, member.pk)
    return audit_write(
        request=request,
        action=Action.BREAK_GLASS,
        target=member,
        member_id=member.pk,
        reason=reason,
        details={"expires": int(expires)},
    )


class UnknownPermission(Exception):
    pass


def _permissions(codenames: Iterable[str]) -> list[Permission]:
    wanted = set(codenames)
    found = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type").filter(
            codename__in={c.split(".", 1)[1] for c in wanted}
        )
    }
    missing = sorted(wanted - found.keys())
    if missing:
        raise UnknownPermission(f"no such permission: {', '.join(missing)}")
    return [found[c] for c in sorted(wanted)]


@transaction.atomic
def roles_sync() -> dict[str, int]:
    """Create the role groups and set each one's permissions to exactly its set. Idempotent."""
    result = {}
    for role in ROLES.values():
        group, _created = Group.objects.get_or_create(name=role.name)
        perms = list(Permission.objects.all()) if role.permissions == ALL else _permissions(role.permissions)
        group.permissions.set(perms)
        result[role.key] = len(perms)
    return result


def role_assign(*, user, role_key: str) -> None:
    """Put a staff member in one role's group (and mark them staff)."""
    group = Group.objects.get(name=ROLES[role_key].name)
    user.groups.add(group)
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
