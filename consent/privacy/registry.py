"""Privacy plans: how each app exports and erases the personal data it holds.

The consent app never deletes another app's rows itself (DESIGN.md). Each app declares a
:class:`Plan` in a ``privacy`` module of its own (``accounts/privacy.py``, ``idp/privacy.py``,
found like ``admin`` modules by :func:`autodiscover`), and the export and erasure jobs run every
registered plan.

Writing a plan
--------------
::

    # loyalty/privacy.py
    from consent.privacy import registry as privacy

    privacy.hold_category_register("accounting", _("Accounting records"))

    def export(user) -> dict:
        return {"points": privacy.rows(Posting.objects.filter(member__user=user), ["created", "amount"])}

    privacy.plan_register(
        privacy.Plan(
            name="loyalty",
            title=_("Points and membership"),
            models=("loyalty.Membership", "loyalty.Posting"),
            export=export,
            steps=(
                # Accounting keeps the amounts; the link to the person goes (never deleted).
                privacy.Step("postings", privacy.pseudonymise("loyalty.Posting", user_field="member__user",
                             set_fields={"member": None, "note": ""}), action=privacy.PSEUDONYMISE,
                             hold_category="accounting"),
                privacy.Step("memberships", privacy.delete("loyalty.Membership")),
            ),
            corrections=((_("Your membership"), "loyalty:membership"),),
        )
    )

Rules every plan follows
------------------------
* ``models`` names (``app_label.ModelName``) every model whose personal data the plan looks
  after. ``tests/consent/privacy/test_coverage.py`` fails, naming the model, when a model that
  holds personal data is covered by no plan (see :func:`coverage_problems`): the user model,
  any model with a foreign key, one-to-one or many-to-many path to it, and models marked with
  :func:`personal`. A model with such a path that holds nothing personal is declared with
  :func:`not_personal` and a reason.
* ``export(user) -> dict`` returns JSON-serialisable data (datetimes, UUIDs and decimals are
  fine). Never secrets: no token values, password hashes or key material.
* Every :class:`Step` is **idempotent**: ``run(ctx)`` may be called again after a crash, or
  after another run finished it, and must then do nothing harmful (``filter(...).delete()``,
  ``filter(...).update(...)``). ``ctx.user`` may be ``None`` when the account row is already
  gone. Each step runs in its own transaction together with the record that it is done, so a
  worker killed half-way leaves the step either done or untouched.
* A step with ``hold_category`` waits while a legal hold of that category (or ``"all"``) is
  active for the member; everything else is erased at once. Steps with ``final=True`` run
  only when every other step of every plan is done (the account row itself goes last).
* ``title``, ``labels`` (top-level export keys → translated names), ``corrections`` (label,
  URL name) and ``page_order`` shape the member's data page (``/privacy/``).
* ``boundary=(...)`` names covered models whose link to a person does not make the rows that
  point at them personal (a client's owner does not make every token of that client personal).

Legal hold rules
----------------
:func:`hold_rule_register` adds a rule that the erasure job asks before it runs: the rule
returns the holds to place (category, reason, end date, a key that makes it idempotent), e.g.
"entered a contest that ends on date D: keep the entry until D + 90 days". See
``accounts/privacy.py`` for a real one.
"""

from __future__ import annotations

import base64
import datetime
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

DELETE = "delete"
PSEUDONYMISE = "pseudonymise"
ALL_CATEGORIES = "all"


@dataclass(frozen=True)
class StepContext:
    """What a step gets: the member (``None`` once the account row is gone), the request, the time."""

    user: Any
    user_ref: int
    request: Any
    now: datetime.datetime


@dataclass(frozen=True)
class Step:
    """One idempotent erase step of a plan."""

    name: str
    run: Callable[[StepContext], dict | None]
    action: str = DELETE
    hold_category: str = ""
    final: bool = False
    description: str = ""


@dataclass(frozen=True)
class Plan:
    """An app's declaration of the personal data it holds, how it is exported and how erased."""

    name: str
    title: Any
    models: tuple[str, ...]
    export: Callable[[Any], dict]
    steps: tuple[Step, ...]
    order: int = 500
    corrections: tuple[tuple[Any, str], ...] = ()
    boundary: tuple[str, ...] = ()
    labels: dict[str, Any] = field(default_factory=dict)
    page_order: int = 500  # where its section comes on the member's data page

    def step_key(self, step: Step) -> str:
        return f"{self.name}.{step.name}"


@dataclass(frozen=True)
class HoldSpec:
    """A hold a rule asks for. ``key`` identifies it within the rule (placed once per member)."""

    category: str
    reason: str
    ends_at: datetime.datetime
    key: str


_plans: dict[str, Plan] = {}
_not_personal: dict[str, str] = {}
_personal: dict[str, str] = {}
_hold_categories: dict[str, Any] = {ALL_CATEGORIES: _("All personal data")}
_hold_rules: dict[str, Callable[[Any, datetime.datetime], Iterable[HoldSpec]]] = {}
_discovered = False


class PlanError(Exception):
    pass


# --- registration ----------------------------------------------------------------------------------


def plan_register(plan: Plan) -> Plan:
    existing = _plans.get(plan.name)
    if existing is not None and existing is not plan:
        raise PlanError(f"a privacy plan named {plan.name!r} is already registered")
    names = [step.name for step in plan.steps]
    if len(names) != len(set(names)):
        raise PlanError(f"privacy plan {plan.name!r} has two steps with one name")
    for step in plan.steps:
        if step.action not in (DELETE, PSEUDONYMISE):
            raise PlanError(f"{plan.step_key(step)}: action must be {DELETE!r} or {PSEUDONYMISE!r}")
    _plans[plan.name] = plan
    return plan


def plan_unregister(name: str) -> None:
    """Remove a plan (for test-only plans; apps never unregister)."""
    _plans.pop(name, None)


def not_personal(label: str, reason: str) -> None:
    """Declare that a model with a path to the user model holds no personal data, and why."""
    if not reason.strip():
        raise PlanError(f"{label}: say why it is not personal data")
    _not_personal[label] = reason


def personal(label: str, reason: str) -> None:
    """Mark a model as personal data although it has no relation path to the user model."""
    _personal[label] = reason


def declaration_remove(label: str) -> None:
    """Forget a :func:`personal` or :func:`not_personal` declaration (for test-only models)."""
    _personal.pop(label, None)
    _not_personal.pop(label, None)


def hold_category_register(key: str, label) -> None:
    _hold_categories[key] = label


def hold_categories() -> dict[str, Any]:
    autodiscover()
    return dict(_hold_categories)


def hold_rule_register(name: str, rule: Callable[[Any, datetime.datetime], Iterable[HoldSpec]]) -> None:
    """``rule(user, now)`` returns the holds that must be placed on the member now (may be none)."""
    _hold_rules[name] = rule


def hold_rules() -> dict[str, Callable]:
    autodiscover()
    return dict(_hold_rules)


def autodiscover() -> None:
    """Import the ``privacy`` module of every installed app (like the admin's ``admin`` modules)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("privacy")
    # The consent app's own ``privacy`` module is this package; its plan lives beside this file.
    from consent.legal import privacy as _legal_plan  # noqa: F401
    from consent.outbox import privacy as _outbox_plan  # noqa: F401
    from consent.privacy import plans  # noqa: F401
    from consent.purposes import privacy as _purposes_plan  # noqa: F401


# --- reading -----------------------------------------------------------------------------------------


def plans() -> list[Plan]:
    autodiscover()
    return sorted(_plans.values(), key=lambda p: (p.order, p.name))


def steps() -> list[tuple[Plan, Step]]:
    """Every step in the order the erasure job runs them: plan order, final steps last."""
    ordered = [(plan, step) for plan in plans() for step in plan.steps]
    return [ps for ps in ordered if not ps[1].final] + [ps for ps in ordered if ps[1].final]


def _model_labels(models) -> dict[str, Any]:
    return {m._meta.label: m for m in models}


def personal_models(models=None) -> dict[str, str]:
    """Label → why it is personal, for every installed model that holds personal data.

    Personal: the user model; models marked with :func:`personal`; models with a forward
    foreign key, one-to-one or many-to-many field to a personal model (followed transitively),
    except through models a plan names as its ``boundary``. Models declared with
    :func:`not_personal` are left out (and stop the path).
    """
    from django.apps import apps
    from django.contrib.auth import get_user_model

    autodiscover()
    by_label = _model_labels(models if models is not None else apps.get_models())
    boundary = {label for plan in _plans.values() for label in plan.boundary}
    user_label = get_user_model()._meta.label
    found: dict[str, str] = {}
    if user_label in by_label:
        found[user_label] = "the user model"
    for label in _personal:
        if label in by_label:
            found[label] = "marked personal: " + _personal[label]
    changed = True
    while changed:
        changed = False
        for label, model in by_label.items():
            if label in found or label in _not_personal:
                continue
            for f in model._meta.get_fields():
                if not (f.is_relation and f.concrete and f.related_model is not None):
                    continue
                target = f.related_model._meta.label
                if target in found and target not in boundary:
                    found[label] = f"{f.name} → {target}"
                    changed = True
                    break
    return found


def coverage_problems(models=None) -> list[str]:
    """Why the registered plans do not cover the installed models; empty when they do."""
    from django.apps import apps

    autodiscover()
    installed = _model_labels(models if models is not None else apps.get_models())
    covered: dict[str, str] = {}
    problems = []
    for plan in _plans.values():
        for label in plan.models:
            if label in covered:
                problems.append(f"{label} is covered by two plans: {covered[label]} and {plan.name}")
            covered[label] = plan.name
            if label not in installed:
                problems.append(f"plan {plan.name!r} names {label}, which is not an installed model")
        for step in plan.steps:
            if step.hold_category and step.hold_category not in _hold_categories:
                problems.append(f"{plan.step_key(step)} names hold category {step.hold_category!r}, never registered")
        for label in plan.boundary:
            if label not in plan.models:
                problems.append(f"plan {plan.name!r} names {label} as a boundary but does not cover it")
    for label, why in sorted(personal_models(models).items()):
        if label not in covered:
            problems.append(
                f"{label} holds personal data ({why}) but no privacy plan covers it: add it to a plan's "
                f"models (with export and erase steps) or declare it with not_personal(label, reason)"
            )
    for label in _not_personal:
        if label in covered:
            problems.append(f"{label} is declared not personal but plan {covered[label]!r} covers it")
    return problems


# --- helpers for plan authors --------------------------------------------------------------------------


def _jsonable(value):
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def rows(queryset, fields: Iterable[str]) -> list[dict]:
    """``fields`` of every row of ``queryset`` as JSON-ready dicts (``a__b`` lookups allowed)."""
    fields = list(fields)
    return [{k: _jsonable(v) for k, v in row.items()} for row in queryset.values(*fields)]


def _model(label: str):
    from django.apps import apps

    return apps.get_model(label)


def delete(label: str, *, user_field: str = "user") -> Callable[[StepContext], dict]:
    """A step that deletes the member's rows of ``label`` (``user_field`` may be a ``__`` path)."""

    def run(ctx: StepContext) -> dict:
        deleted, _per_model = _model(label).objects.filter(**{f"{user_field}__pk": ctx.user_ref}).delete()
        return {"deleted": deleted}

    return run


def pseudonymise(label: str, *, set_fields: dict[str, Any], user_field: str = "user") -> Callable:
    """A step that keeps the member's rows of ``label`` but overwrites ``set_fields`` (the link
    to the person and the personal fields, e.g. ``{"user": None, "note": ""}``)."""

    def run(ctx: StepContext) -> dict:
        changed = _model(label).objects.filter(**{f"{user_field}__pk": ctx.user_ref}).update(**set_fields)
        return {"pseudonymised": changed}

    return run
