"""State changes of the member's privacy rights: exports, erasure, legal holds, inactive accounts.

Jobs (export build, erasure run) are idempotent and resumable:

* a job *claims* its request in a short transaction (``SELECT ... FOR UPDATE SKIP LOCKED``:
  a request another live worker is working on is left to it) and records a heartbeat;
* each erase step runs in its own transaction together with the row that records it done, so
  a worker killed half-way leaves every step either done or untouched; a re-run skips done steps;
* :func:`privacy_jobs_resume` (Celery beat) re-queues jobs without progress for
  ``PRIVACY_JOB_STALE_SECONDS`` and erasures whose legal holds have ended. Broker redelivery
  is not relied on (Redis returns an unacknowledged message only after an hour).

Every state change leaves an :class:`idp.models.AuditEvent` (``privacy.*``). Erasure events name
the account by number (``account``), not by a link, so they survive the account.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from consent.models import ErasureRequest, ErasureStep, ExportRequest, InactivityNotice, LegalHold
from consent.privacy import registry, selectors
from consent.privacy.app_settings import privacy_settings
from idp.services import audit_record

logger = logging.getLogger(__name__)

EXPORT_SALT = "consent.privacy.export-link"

Erasure = ErasureRequest.State
Step = ErasureStep.State
Export = ExportRequest.State


class PrivacyError(Exception):
    """A refused privacy action, with a code and a message the member may read."""

    def __init__(self, code: str, message):
        super().__init__(code)
        self.code = code
        self.message = message


class ExportLinkError(PrivacyError):
    pass


class ErasureIncomplete(Exception):
    """Some step failed; the job is retried (the steps already done stay done)."""


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _send(*, template: str, to: str, language: str, context: dict) -> None:
    """One plain-text email from ``consent/privacy/email/<template>_{subject,message}.txt``."""
    with translation.override(language or settings.LANGUAGE_CODE):
        subject = render_to_string(f"consent/privacy/email/{template}_subject.txt", context)
        body = render_to_string(f"consent/privacy/email/{template}_message.txt", context)
    EmailMessage(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [to]).send()


def _schedule(task, *args) -> None:
    transaction.on_commit(partial(task.delay, *args), robust=True)


# --- data export -------------------------------------------------------------------------------------


@transaction.atomic
def export_request_create(*, user, language: str = "") -> ExportRequest:
    """Queue a data export; the member gets an email with a download link when it is ready.

    While one is queued or being prepared, asking again returns that one.
    """
    from consent.privacy import tasks

    get_user_model().objects.select_for_update().filter(pk=user.pk).first()  # one request at a time
    current = ExportRequest.objects.filter(user=user, state__in=ExportRequest.OPEN_STATES).first()
    if current is not None:
        return current
    export = ExportRequest.objects.create(user=user, language=language or translation.get_language() or "")
    audit_record(kind="privacy.export_requested", user=user, data={"export": export.pk})
    _schedule(tasks.export_build, export.pk)
    return export


def export_build(*, export_id: int, now: datetime | None = None) -> ExportRequest | None:
    """Build the export, keep it in the database, email the link. Safe to run again at any point."""
    now = _now(now)
    with transaction.atomic():
        export = (
            ExportRequest.objects.select_for_update(skip_locked=True)
            .select_related("user")
            .filter(pk=export_id)
            .first()
        )
        if export is None or export.state in (Export.DOWNLOADED, Export.EXPIRED):
            return export
        if export.state != Export.READY:
            export.state = Export.RUNNING
            export.attempts += 1
            export.started_at = export.started_at or now
            export.heartbeat_at = now
            export.error = ""
            export.save(update_fields=["state", "attempts", "started_at", "heartbeat_at", "error"])
    if export.state == Export.RUNNING:
        payload = selectors.export_payload(user=export.user, now=now)
        with transaction.atomic():
            export = ExportRequest.objects.select_for_update().select_related("user").get(pk=export_id)
            if export.state == Export.RUNNING:
                export.payload = payload
                export.state = Export.READY
                export.finished_at = now
                export.expires_at = now + timedelta(seconds=privacy_settings.EXPORT_LINK_SECONDS)
                export.save(update_fields=["payload", "state", "finished_at", "expires_at"])
                audit_record(kind="privacy.export_ready", user=export.user, data={"export": export.pk})
    if export.state == Export.READY and export.email_sent_at is None:
        _export_email_send(export=export)
        ExportRequest.objects.filter(pk=export.pk).update(email_sent_at=timezone.now())
    return export


def export_failed(*, export_id: int, error: BaseException) -> None:
    with transaction.atomic():
        export = ExportRequest.objects.select_for_update().filter(pk=export_id, state=Export.RUNNING).first()
        if export is None:
            return
        export.state = Export.FAILED
        export.error = type(error).__name__
        export.save(update_fields=["state", "error"])
        audit_record(kind="privacy.export_failed", user=export.user, data={"export": export.pk})


def export_token(export: ExportRequest) -> str:
    return signing.dumps({"export": export.pk, "user": export.user_id}, salt=EXPORT_SALT)


def _export_email_send(*, export: ExportRequest) -> None:
    user = export.user
    context = {
        "url": settings.IDP_PUBLIC_URL + reverse("privacy:export_download", args=[export_token(export)]),
        "expires_at": export.expires_at,
        "hours": privacy_settings.EXPORT_LINK_SECONDS // 3600,
    }
    _send(template="export_ready", to=user.email, language=export.language or user.locale, context=context)


def export_download(*, user, token: str, now: datetime | None = None) -> tuple[ExportRequest, dict]:
    """The export behind an emailed link, for the member it belongs to; the link works once."""
    now = _now(now)
    try:
        data = signing.loads(token, salt=EXPORT_SALT, max_age=privacy_settings.EXPORT_LINK_SECONDS)
    except signing.SignatureExpired as error:
        raise ExportLinkError("expired", _("This download link has expired.")) from error
    except signing.BadSignature as error:
        raise ExportLinkError("invalid", _("This download link is not valid.")) from error
    if not isinstance(data, dict) or data.get("user") != user.pk:
        audit_record(kind="privacy.export_foreign_link", user=user, data={"export": data.get("export")})
        raise ExportLinkError("foreign", _("This download link belongs to another account."))
    with transaction.atomic():
        export = ExportRequest.objects.select_for_update().filter(pk=data.get("export"), user=user).first()
        if export is None:
            raise ExportLinkError("invalid", _("This download link is not valid."))
        if export.state == Export.DOWNLOADED:
            raise ExportLinkError("used", _("This download link was already used."))
        if export.state == Export.EXPIRED or (export.expires_at and export.expires_at <= now):
            raise ExportLinkError("expired", _("This download link has expired."))
        if export.state != Export.READY or export.payload is None:
            raise ExportLinkError("invalid", _("This download link is not valid."))
        payload = export.payload
        export.payload = None
        export.state = Export.DOWNLOADED
        export.downloaded_at = now
        export.save(update_fields=["payload", "state", "downloaded_at"])
        audit_record(kind="privacy.export_downloaded", user=user, data={"export": export.pk})
    return export, payload


# --- erasure -------------------------------------------------------------------------------------------


@transaction.atomic
def erasure_request_create(
    *,
    user,
    reason: str,
    http_request: HttpRequest | None = None,
    requested_by=None,
    language: str = "",
) -> ErasureRequest:
    """Cut the account off at once, then queue the erasure job.

    At once, in this transaction: every session ends and every token relying parties hold is
    revoked (:func:`accounts.security.services.sign_out_everywhere`), consents to apps are
    withdrawn, and the account can no longer sign in (inactive, no usable password). The job
    erases the rest; its first act is the confirmation email (before the address is erased).
    """
    from accounts.security.services import sign_out_everywhere
    from consent.privacy import tasks
    from idp.models import ClientAuthorization

    user = get_user_model().objects.select_for_update().get(pk=user.pk)
    existing = ErasureRequest.objects.filter(user_ref=user.pk, state__in=ErasureRequest.OPEN_STATES).first()
    sign_out_everywhere(user=user, request=http_request)
    ClientAuthorization.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    user.is_active = False
    user.set_unusable_password()
    user.save(update_fields=["is_active", "password"])
    if existing is not None:
        return existing
    erasure = ErasureRequest.objects.create(
        user=user,
        user_ref=user.pk,
        reason=reason,
        requested_by=requested_by,
        notify_email=user.email,
        notify_language=language or user.locale or translation.get_language() or settings.LANGUAGE_CODE,
    )
    InactivityNotice.objects.filter(user=user, state=InactivityNotice.State.SENT).update(
        state=InactivityNotice.State.ERASED, closed_at=timezone.now(), erasure=erasure
    )
    audit_record(
        kind="privacy.erasure_requested",
        user=requested_by,
        data={"request": erasure.pk, "account": user.pk, "reason": reason},
    )
    _schedule(tasks.erasure_run, erasure.pk)
    return erasure


def account_delete(*, user, request: HttpRequest) -> ErasureRequest:
    """The member deletes their own account from the preference center."""
    return erasure_request_create(
        user=user, reason=ErasureRequest.Reason.MEMBER, http_request=request, language=translation.get_language()
    )


@dataclass
class _Run:
    erasure: ErasureRequest
    user: object
    now: datetime
    failed: list[str]


def erasure_run(*, request_id: int, now: datetime | None = None) -> ErasureRequest | None:
    """Run (or resume) an erasure job: every step not done yet, held steps left for later.

    Raises :class:`ErasureIncomplete` when a step failed (the task retries it).
    """
    now = _now(now)
    erasure = _erasure_claim(request_id=request_id, now=now)
    if erasure is None or erasure.state == Erasure.DONE:
        return erasure
    _confirmation_send(erasure=erasure)
    run = _Run(erasure=erasure, user=get_user_model().objects.filter(pk=erasure.user_ref).first(), now=now, failed=[])
    ordered = registry.steps()
    non_final = [plan.step_key(step) for plan, step in ordered if not step.final]
    for plan, step in ordered:
        _step_run(run=run, key=plan.step_key(step), step=step, waits_for=non_final if step.final else None)
    return _erasure_settle(run=run)


@transaction.atomic
def _erasure_claim(*, request_id: int, now: datetime) -> ErasureRequest | None:
    erasure = ErasureRequest.objects.select_for_update(skip_locked=True).filter(pk=request_id).first()
    if erasure is None or erasure.state == Erasure.DONE:
        return erasure
    erasure.state = Erasure.RUNNING
    erasure.started_at = erasure.started_at or now
    erasure.heartbeat_at = now
    erasure.attempts += 1
    erasure.last_error = ""
    erasure.save(update_fields=["state", "started_at", "heartbeat_at", "attempts", "last_error"])
    existing = set(ErasureStep.objects.filter(request=erasure).values_list("key", flat=True))
    ErasureStep.objects.bulk_create(
        [
            ErasureStep(
                request=erasure,
                key=plan.step_key(step),
                position=position,
                action=step.action,
                hold_category=step.hold_category,
            )
            for position, (plan, step) in enumerate(registry.steps())
            if plan.step_key(step) not in existing
        ]
    )
    user = get_user_model().objects.filter(pk=erasure.user_ref).first()
    if user is not None:
        legal_holds_from_rules(user=user, now=now)
    audit_record(
        kind="privacy.erasure_started",
        data={"request": erasure.pk, "account": erasure.user_ref, "attempt": erasure.attempts},
    )
    return erasure


def _held(step: registry.Step, categories: set[str]) -> bool:
    return registry.ALL_CATEGORIES in categories or (bool(step.hold_category) and step.hold_category in categories)


def _step_run(*, run: _Run, key: str, step: registry.Step, waits_for: list[str] | None) -> None:
    erasure = run.erasure
    with transaction.atomic():
        row = ErasureStep.objects.select_for_update().get(request=erasure, key=key)
        if row.state == Step.DONE:
            return
        if waits_for is not None and (
            ErasureStep.objects.filter(request=erasure, key__in=waits_for).exclude(state=Step.DONE).exists()
        ):
            if row.state != Step.PENDING:
                row.state = Step.PENDING
                row.save(update_fields=["state"])
            return
        if _held(step, selectors.active_hold_categories(user_ref=erasure.user_ref, now=run.now)):
            if row.state != Step.HELD:
                row.state = Step.HELD
                row.save(update_fields=["state"])
                audit_record(kind="privacy.erasure_step_held", data={"request": erasure.pk, "step": key})
            return
        # Committed on its own: the queue shows which step a job is in (and was in when it died).
        row.state = Step.RUNNING
        row.attempts += 1
        row.started_at = run.now
        row.error = ""
        row.save(update_fields=["state", "attempts", "started_at", "error"])
    try:
        with transaction.atomic():
            # The request row is the job's lock: two runners never work on one request at once.
            ErasureRequest.objects.select_for_update().filter(pk=erasure.pk).update(heartbeat_at=timezone.now())
            row = ErasureStep.objects.select_for_update().get(pk=row.pk)
            if row.state == Step.DONE:
                return
            if _held(step, selectors.active_hold_categories(user_ref=erasure.user_ref, now=run.now)):
                row.state = Step.HELD  # a hold placed since the check above
                row.save(update_fields=["state"])
                return
            result = step.run(
                registry.StepContext(user=run.user, user_ref=erasure.user_ref, request=erasure, now=run.now)
            )
            row.state = Step.DONE
            row.finished_at = timezone.now()
            row.result = result or {}
            row.save(update_fields=["state", "finished_at", "result"])
            audit_record(
                kind="privacy.erasure_step_done",
                data={"request": erasure.pk, "account": erasure.user_ref, "step": key, "result": row.result},
            )
    except Exception as error:
        logger.exception("erasure request %s: step %s failed", erasure.pk, key)
        with transaction.atomic():
            ErasureStep.objects.filter(pk=row.pk).update(state=Step.FAILED, error=type(error).__name__)
            audit_record(
                kind="privacy.erasure_step_failed",
                data={"request": erasure.pk, "step": key, "error": type(error).__name__},
            )
        run.failed.append(key)


def _erasure_settle(*, run: _Run) -> ErasureRequest:
    with transaction.atomic():
        erasure = ErasureRequest.objects.select_for_update().get(pk=run.erasure.pk)
        states = set(ErasureStep.objects.filter(request=erasure).values_list("state", flat=True))
        if Step.FAILED in states or run.failed:
            erasure.state = Erasure.FAILED
            erasure.last_error = ", ".join(run.failed)[:300] or "a step failed"
            erasure.save(update_fields=["state", "last_error"])
        elif states - {Step.DONE}:
            if erasure.state != Erasure.HELD:
                audit_record(kind="privacy.erasure_held", data={"request": erasure.pk, "account": erasure.user_ref})
            erasure.state = Erasure.HELD
            erasure.save(update_fields=["state"])
    if erasure.state == Erasure.FAILED:
        raise ErasureIncomplete(erasure.last_error)
    if erasure.state == Erasure.HELD:
        return erasure
    return _erasure_complete(erasure=erasure, now=run.now)


def _confirmation_send(*, erasure: ErasureRequest) -> None:
    """The "we are deleting your account" email, sent before any step erases the address."""
    if erasure.confirmation_sent_at or not erasure.notify_email:
        return
    _send(
        template=f"erasure_confirmation_{erasure.reason}",
        to=erasure.notify_email,
        language=erasure.notify_language,
        context={"request": erasure},
    )
    ErasureRequest.objects.filter(pk=erasure.pk).update(confirmation_sent_at=timezone.now())


def _erasure_complete(*, erasure: ErasureRequest, now: datetime) -> ErasureRequest:
    """Every step is done: tell the member, then forget the address the email went to.

    Sent before the address is cleared; a crash in between sends it again on resume
    (at least once, never lost).
    """
    held = LegalHold.objects.filter(user_ref=erasure.user_ref).exists()
    if erasure.notify_email and erasure.completion_sent_at is None:
        _send(
            template="erasure_complete",
            to=erasure.notify_email,
            language=erasure.notify_language,
            context={"request": erasure, "held": held},
        )
    with transaction.atomic():
        erasure = ErasureRequest.objects.select_for_update().get(pk=erasure.pk)
        if erasure.state == Erasure.DONE:
            return erasure
        erasure.completion_sent_at = erasure.completion_sent_at or (timezone.now() if erasure.notify_email else None)
        erasure.notify_email = ""
        erasure.notify_language = ""
        erasure.state = Erasure.DONE
        erasure.finished_at = now
        erasure.user = None
        erasure.save(
            update_fields=["completion_sent_at", "notify_email", "notify_language", "state", "finished_at", "user"]
        )
        audit_record(kind="privacy.erasure_completed", data={"request": erasure.pk, "account": erasure.user_ref})
    return erasure


@transaction.atomic
def erasure_retry(*, erasure: ErasureRequest, staff) -> ErasureRequest:
    """Staff re-queue a failed or stuck request (steps already done stay done)."""
    from consent.privacy import tasks

    erasure = ErasureRequest.objects.select_for_update().get(pk=erasure.pk)
    if erasure.state == Erasure.DONE:
        raise PrivacyError("done", _("This request is already done."))
    ErasureStep.objects.filter(request=erasure, state=Step.FAILED).update(state=Step.PENDING)
    erasure.state = Erasure.QUEUED
    erasure.save(update_fields=["state"])
    audit_record(kind="privacy.erasure_retried", user=staff, data={"request": erasure.pk, "account": erasure.user_ref})
    _schedule(tasks.erasure_run, erasure.pk)
    return erasure


@transaction.atomic
def export_retry(*, export: ExportRequest, staff) -> ExportRequest:
    from consent.privacy import tasks

    export = ExportRequest.objects.select_for_update().get(pk=export.pk)
    if export.state not in (Export.FAILED, Export.QUEUED, Export.RUNNING):
        raise PrivacyError("not_retryable", _("Only failed or stuck exports can be retried."))
    export.state = Export.QUEUED
    export.save(update_fields=["state"])
    audit_record(kind="privacy.export_retried", user=staff, data={"export": export.pk})
    _schedule(tasks.export_build, export.pk)
    return export


# --- legal holds --------------------------------------------------------------------------------------


def legal_hold_validate(*, category: str, reason: str, ends_at: datetime, now: datetime | None = None) -> None:
    if category not in registry.hold_categories():
        raise PrivacyError("category", _("Unknown category of data."))
    if not reason.strip():
        raise PrivacyError("reason", _("Give the reason for the hold."))
    if ends_at <= _now(now):
        raise PrivacyError("ends_at", _("The end of the hold must be in the future."))


@transaction.atomic
def legal_hold_place(
    *,
    user_ref: int,
    category: str,
    reason: str,
    ends_at: datetime,
    placed_by=None,
    rule: str = "",
    rule_key: str = "",
    now: datetime | None = None,
) -> LegalHold:
    """Keep one category of a member's data until ``ends_at``, whatever erasure was asked for."""
    now = _now(now)
    legal_hold_validate(category=category, reason=reason, ends_at=ends_at, now=now)
    user = get_user_model().objects.filter(pk=user_ref).first()
    if rule:
        hold, created = LegalHold.objects.get_or_create(
            user_ref=user_ref,
            rule=rule,
            rule_key=rule_key,
            defaults={"user": user, "category": category, "reason": reason, "ends_at": ends_at},
        )
        if not created:
            return hold
    else:
        hold = LegalHold.objects.create(
            user=user, user_ref=user_ref, category=category, reason=reason, ends_at=ends_at, placed_by=placed_by
        )
    audit_record(
        kind="privacy.hold_placed",
        user=placed_by,
        data={
            "hold": hold.pk,
            "account": user_ref,
            "category": category,
            "ends_at": ends_at.isoformat(),
            "rule": rule,
        },
    )
    return hold


def legal_holds_from_rules(*, user, now: datetime | None = None) -> list[LegalHold]:
    """Ask every registered hold rule about the member and place the holds they name (once each)."""
    now = _now(now)
    placed = []
    for name, rule in registry.hold_rules().items():
        for spec in rule(user, now):
            if spec.ends_at > now:
                placed.append(
                    legal_hold_place(
                        user_ref=user.pk,
                        category=spec.category,
                        reason=spec.reason,
                        ends_at=spec.ends_at,
                        rule=name,
                        rule_key=spec.key,
                        now=now,
                    )
                )
    return placed


@transaction.atomic
def legal_hold_lift(*, hold: LegalHold, lifted_by, reason: str, now: datetime | None = None) -> LegalHold:
    """End a hold early; the erasure it held finishes at the next sweep."""
    from consent.privacy import tasks

    now = _now(now)
    hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
    if hold.lifted_at is not None:
        return hold
    hold.lifted_at = now
    hold.lifted_by = lifted_by
    hold.lift_reason = reason[:300]
    hold.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    audit_record(kind="privacy.hold_lifted", user=lifted_by, data={"hold": hold.pk, "account": hold.user_ref})
    for erasure in ErasureRequest.objects.filter(user_ref=hold.user_ref, state=Erasure.HELD):
        _schedule(tasks.erasure_run, erasure.pk)
    return hold


# --- the sweeper (beat) ---------------------------------------------------------------------------------


def privacy_jobs_resume(*, now: datetime | None = None) -> dict:
    """Re-queue stalled exports and erasures and erasures whose holds ended; expire old exports."""
    from consent.privacy import tasks

    now = _now(now)
    with transaction.atomic():
        erasures = selectors.erasure_requests_due(now=now)
        exports = selectors.exports_stalled(now=now)
        for pk in erasures:
            audit_record(kind="privacy.job_resumed", data={"request": pk})
            _schedule(tasks.erasure_run, pk)
        for pk in exports:
            audit_record(kind="privacy.job_resumed", data={"export": pk})
            _schedule(tasks.export_build, pk)
        expired = 0
        for export in ExportRequest.objects.select_for_update(skip_locked=True).filter(
            state=Export.READY, expires_at__lte=now
        ):
            export.payload = None
            export.state = Export.EXPIRED
            export.save(update_fields=["payload", "state"])
            audit_record(kind="privacy.export_expired", user=export.user, data={"export": export.pk})
            expired += 1
    return {"erasures": erasures, "exports": exports, "expired_exports": expired}


# --- inactive accounts -------------------------------------------------------------------------------------


def inactive_accounts_sweep(*, now: datetime | None = None) -> dict:
    """After ``PRIVACY_INACTIVE_NOTICE_DAYS`` without a sign-in, a notice; ``PRIVACY_INACTIVE_ERASURE_DAYS``
    later, still without one, an erasure request. A sign-in in between cancels the notice.

    Staff accounts are left alone.
    """
    from consent.privacy import tasks

    now = _now(now)
    days = privacy_settings.INACTIVE_NOTICE_DAYS
    summary = {"notices": 0, "cancelled": 0, "erasures": 0}
    if days <= 0:
        return summary
    batch = privacy_settings.INACTIVE_BATCH
    for notice in InactivityNotice.objects.filter(state=InactivityNotice.State.SENT).select_related("user")[:batch]:
        with transaction.atomic():
            notice = InactivityNotice.objects.select_for_update().select_related("user").get(pk=notice.pk)
            if notice.state != InactivityNotice.State.SENT:
                continue
            user = notice.user
            if user.last_login and user.last_login > notice.sent_at:
                notice.state = InactivityNotice.State.CANCELLED
                notice.closed_at = now
                notice.save(update_fields=["state", "closed_at"])
                audit_record(kind="privacy.inactivity_notice_cancelled", user=user, data={"notice": notice.pk})
                summary["cancelled"] += 1
            elif notice.erasure_due_at <= now:
                erasure_request_create(user=user, reason=ErasureRequest.Reason.INACTIVE)
                summary["erasures"] += 1
    User = get_user_model()
    quiet = (
        User.objects.filter(is_active=True, is_staff=False, is_superuser=False)
        .annotate(last_seen=Coalesce("last_login", "date_joined"))
        .filter(last_seen__lt=now - timedelta(days=days))
        .exclude(inactivity_notices__state=InactivityNotice.State.SENT)
        .exclude(Q(pk__in=ErasureRequest.objects.filter(state__in=ErasureRequest.OPEN_STATES).values("user_ref")))
        .order_by("last_seen", "pk")[:batch]
    )
    for user in quiet:
        with transaction.atomic():
            notice = InactivityNotice.objects.create(
                user=user,
                sent_at=now,
                last_login_at=user.last_login,
                erasure_due_at=now + timedelta(days=privacy_settings.INACTIVE_ERASURE_DAYS),
            )
            audit_record(kind="privacy.inactivity_notice_sent", user=user, data={"notice": notice.pk})
            _schedule(tasks.inactivity_notice_send, notice.pk)
        summary["notices"] += 1
    return summary


def inactivity_notice_send(*, notice_id: int) -> None:
    notice = InactivityNotice.objects.select_related("user").filter(pk=notice_id).first()
    if notice is None or notice.state != InactivityNotice.State.SENT or notice.email_sent_at is not None:
        return
    user = notice.user
    _send(
        template="inactivity_notice",
        to=user.email,
        language=user.locale,
        context={
            "notice": notice,
            "days": privacy_settings.INACTIVE_NOTICE_DAYS,
            "login_url": settings.IDP_PUBLIC_URL + reverse("account_login"),
        },
    )
    InactivityNotice.objects.filter(pk=notice.pk).update(email_sent_at=timezone.now())
