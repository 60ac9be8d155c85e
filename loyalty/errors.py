"""The loyalty app's refusals: one :class:`~idp.api.DomainError` per rule, with a stable code.

Services raise them; the JSON API turns them into RFC 9457 problem details, the pages into
form errors or redirects.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from accounts.services import ACR_MFA
from idp.api import DomainError


class LoyaltyError(DomainError):
    pass


class ValidationFailed(LoyaltyError):
    """The request body broke the schema; ``errors`` lists each problem with a JSON pointer."""

    status = 422
    code = "validation_failed"
    title = _("The request has invalid fields.")

    def __init__(self, errors: list[dict]):
        super().__init__(errors=errors)


class StepUpRequired(LoyaltyError):
    """RFC 9470: the token's authentication is not strong or recent enough for this."""

    status = 401
    code = "insufficient_user_authentication"
    title = _("This redemption needs you to confirm it is you with a second factor.")

    def __init__(self, *, max_age: int):
        super().__init__(acr_values=ACR_MFA, max_age=max_age)
        self.max_age = max_age

    def response(self, request=None):
        response = super().response(request)
        response["WWW-Authenticate"] = (
            f'Bearer error="insufficient_user_authentication", '
            f'error_description="A recent second factor is required", '
            f'acr_values="{ACR_MFA}", max_age={self.max_age}'
        )
        return response


class TooManyRedemptions(LoyaltyError):
    status = 429
    code = "redemption_limit"
    title = _("Too many redemptions in the last 24 hours. Try again later.")

    def __init__(self, *, retry_after: int, **extra):
        super().__init__(retry_after=retry_after, **extra)
        self.retry_after = retry_after

    def response(self, request=None):
        response = super().response(request)
        response["Retry-After"] = str(self.retry_after)
        return response


class RedemptionOnHold(LoyaltyError):
    status = 403
    code = "redemption_on_hold"
    title = _("Redemptions are paused for a while after a sign-in from a new device.")

    def __init__(self, *, until):
        super().__init__(hold_until=until.isoformat().replace("+00:00", "Z"))
        self.until = until


def unknown_program() -> LoyaltyError:
    return LoyaltyError(code="unknown_program", title=_("There is no such program."), status=404)


def wrong_program() -> LoyaltyError:
    return LoyaltyError(code="wrong_program", title=_("This client does not act for this program."), status=403)


def unknown_member() -> LoyaltyError:
    return LoyaltyError(code="unknown_member", title=_("No member of this program has that number."), status=404)


def not_a_member() -> LoyaltyError:
    return LoyaltyError(code="not_a_member", title=_("You are not a member of this program."), status=404)


def insufficient_points(*, balance: int) -> LoyaltyError:
    return LoyaltyError(code="insufficient_points", title=_("Not enough points."), status=409, balance=balance)


def unknown_transaction() -> LoyaltyError:
    return LoyaltyError(code="unknown_transaction", title=_("No earn transaction of yours has that id."), status=404)


def already_reversed(*, reversal_id: str) -> LoyaltyError:
    return LoyaltyError(
        code="already_reversed",
        title=_("This transaction has already been reversed."),
        status=409,
        reversal_id=reversal_id,
    )


def idempotency_key_required() -> LoyaltyError:
    return LoyaltyError(
        code="idempotency_key_required",
        title=_("Send an Idempotency-Key header (1 to 255 printable characters) with every posting."),
        status=400,
    )


def idempotency_key_reused() -> LoyaltyError:
    return LoyaltyError(
        code="idempotency_key_reused",
        title=_("This Idempotency-Key was already used for a different request."),
        status=422,
    )


def program_closed() -> LoyaltyError:
    return LoyaltyError(code="program_closed", title=_("This program does not take new members."), status=409)
