"""The ``programs`` configuration section: programs, their tiers and the clients acting for them.

Memberships, balances and the ledger are data, not configuration: never part of it. A client
acts for at most one program; listing it under another program moves it there.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import ProtectedError, RestrictedError
from django.utils.translation import gettext as _

from idp.config_io.base import (
    CREATE,
    DELETE,
    UNCHANGED,
    UPDATE,
    Context,
    F,
    Section,
    assign,
    check_list,
    check_object,
    unique_keys,
)
from idp.models import Client
from idp.services import audit_record
from loyalty.models import Program, ProgramClient, Tier

PROGRAM_SPEC = {
    "code": F("str"),
    "name": F("str"),
    "is_active": F("bool", default=True),
    "points_expire_after_days": F("int", default=730),
    "tier_window_days": F("int", default=365),
    "max_points_per_posting": F("int", default=1_000_000),
    "redeem_step_up_threshold": F("int", default=10_000),
    "redeem_max_per_day": F("int", default=10),
    "redeem_max_points_per_day": F("int", default=200_000),
    "tiers": F("list", default=[]),
    "clients": F("list", default=[]),
}
TIER_SPEC = {"code": F("str"), "name": F("str"), "min_points": F("int", default=0)}
LINK_SPEC = {"client": F("str"), "is_active": F("bool", default=True)}
_FIELDS = [k for k in PROGRAM_SPEC if k not in ("code", "tiers", "clients")]


def program_export(program: Program) -> dict:
    data = {"code": program.slug, **{name: getattr(program, name) for name in _FIELDS}}
    data["tiers"] = [
        {"code": t.code, "name": t.name, "min_points": t.min_points}
        for t in sorted(program.tiers.all(), key=lambda t: (t.min_points, t.code))
    ]
    data["clients"] = [
        {"client": link.client.client_id, "is_active": link.is_active}
        for link in sorted(program.clients.all(), key=lambda link: link.client.client_id)
    ]
    return data


class ProgramsSection(Section):
    name = "programs"
    order = 50

    def export(self) -> list[dict]:
        queryset = Program.objects.order_by("slug").prefetch_related("tiers", "clients__client")
        return [program_export(p) for p in queryset]

    def validate(self, value, ctx: Context, path: str) -> None:
        items = check_list(value, path, ctx)
        unique_keys(items, path, "code", ctx)
        clients = ctx.client_ids()
        linked: dict[str, str] = {}
        for i, item in enumerate(items):
            where = f"{path}[{i}]"
            cleaned = check_object(item, where, PROGRAM_SPEC, ctx)
            if cleaned is None:
                continue
            unique_keys(cleaned["tiers"], f"{where}.tiers", "code", ctx)
            unique_keys(cleaned["tiers"], f"{where}.tiers", "min_points", ctx)
            for j, tier in enumerate(cleaned["tiers"]):
                check_object(tier, f"{where}.tiers[{j}]", TIER_SPEC, ctx)
            for j, link in enumerate(cleaned["clients"]):
                row = check_object(link, f"{where}.clients[{j}]", LINK_SPEC, ctx)
                if row is None:
                    continue
                if row["client"] not in clients:
                    ctx.error(
                        f"{where}.clients[{j}].client", _("Unknown client “%(client)s”.") % {"client": row["client"]}
                    )
                elif row["client"] in linked:
                    ctx.error(
                        f"{where}.clients[{j}].client",
                        _("A client acts for one program only; it is already listed under “%(program)s”.")
                        % {"program": linked[row["client"]]},
                    )
                linked.setdefault(row["client"], cleaned["code"])

    def apply(self, value, ctx: Context, path: str) -> None:
        for i, item in enumerate(value):
            where = f"{path}[{i}]"
            cleaned = check_object(item, where, PROGRAM_SPEC, ctx)
            program = Program.objects.filter(slug=cleaned["code"]).first()
            created = program is None
            if created:
                program = Program(slug=cleaned["code"])
            diff = assign(program, {k: cleaned[k] for k in _FIELDS})
            try:
                program.full_clean(validate_unique=False)
            except ValidationError as exc:
                ctx.validation_error(where, exc, rename={"slug": "code"})
                continue
            if created or diff:
                program.save()
            diff.update(self._tiers(program, cleaned["tiers"], ctx, f"{where}.tiers"))
            diff.update(self._links(program, cleaned["clients"], ctx))
            if created or diff:
                audit_record(
                    kind="loyalty.program_configured",
                    user=ctx.actor,
                    data={"program": program.slug, "created": created, "fields": sorted(diff)},
                )
            ctx.record(self.name, program.slug, CREATE if created else (UPDATE if diff else UNCHANGED), diff)

    def _tiers(self, program: Program, items: list, ctx: Context, path: str) -> dict:
        diff: dict = {}
        current = {t.code: t for t in program.tiers.all()}
        wanted = [check_object(item, f"{path}[{j}]", TIER_SPEC, ctx) for j, item in enumerate(items)]
        # Thresholds are unique per program: park the ones that move, so swapping two works.
        moving = [
            current[w["code"]]
            for w in wanted
            if w["code"] in current and current[w["code"]].min_points != w["min_points"]
        ]
        for n, tier in enumerate(moving):
            Tier.objects.filter(pk=tier.pk).update(min_points=10**15 + n)
        for j, data in enumerate(wanted):
            tier = current.pop(data["code"], None)
            new = tier is None
            if new:
                tier = Tier(program=program, code=data["code"])
            changed = assign(tier, {"name": data["name"], "min_points": data["min_points"]})
            try:
                tier.full_clean(exclude=["program"], validate_unique=False, validate_constraints=False)
            except ValidationError as exc:
                ctx.validation_error(f"{path}[{j}]", exc)
                continue
            tier.save()
            if new:
                diff[f"tiers.{tier.code}"] = (None, {"name": tier.name, "min_points": tier.min_points})
            else:
                diff.update({f"tiers.{tier.code}.{k}": v for k, v in changed.items()})
        if ctx.prune:
            for code, tier in sorted(current.items()):
                try:
                    tier.delete()
                except (ProtectedError, RestrictedError):
                    ctx.notes.append(
                        _("Kept tier “%(tier)s” of “%(program)s”: members hold it.")
                        % {"tier": code, "program": program.slug}
                    )
                    continue
                diff[f"tiers.{code}"] = ("deleted", None)
        return diff

    def _links(self, program: Program, items: list, ctx: Context) -> dict:
        diff: dict = {}
        clients = {c.client_id: c for c in Client.objects.filter(client_id__in=[i["client"] for i in items])}
        links = {
            link.client.client_id: link
            for link in ProgramClient.objects.filter(client__in=clients.values()).select_related("client", "program")
        }
        listed = set()
        for item in items:
            data = {**{k: s.default for k, s in LINK_SPEC.items()}, **item}
            listed.add(data["client"])
            link = links.get(data["client"])
            if link is None:
                ProgramClient.objects.create(
                    program=program, client=clients[data["client"]], is_active=data["is_active"]
                )
                diff[f"clients.{data['client']}"] = (None, {"is_active": data["is_active"]})
                continue
            changed = {}
            if link.program_id != program.pk:
                changed["program"] = (link.program.slug, program.slug)
                link.program = program
            if link.is_active != data["is_active"]:
                changed["is_active"] = (link.is_active, data["is_active"])
                link.is_active = data["is_active"]
            if changed:
                link.save(update_fields=["program", "is_active"])
                diff.update({f"clients.{data['client']}.{k}": v for k, v in changed.items()})
        if ctx.prune:
            for link in program.clients.exclude(client__client_id__in=listed).select_related("client"):
                link.delete()
                diff[f"clients.{link.client.client_id}"] = ("deleted", None)
        return diff

    def prune(self, value, ctx: Context, path: str) -> None:
        keep = {item["code"] for item in value}
        for program in Program.objects.exclude(slug__in=keep).order_by("slug"):
            try:
                program.delete()
            except (ProtectedError, RestrictedError):
                ctx.notes.append(
                    _("Kept program “%(program)s”: it has members (close it to new members instead).")
                    % {"program": program.slug}
                )
                continue
            ctx.record(self.name, program.slug, DELETE)
