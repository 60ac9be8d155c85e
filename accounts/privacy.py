"""The accounts app's privacy plan: profile, email addresses, sign-in methods, linked accounts,
sessions, devices and security events (see ``consent.privacy.registry`` for the interface).

The account row goes last (a final step): held data still points at it until its holds end.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from consent.privacy import registry as privacy

SECURITY_LOG = "security_log"
FLAGGED_PASSKEY_HOLD_DAYS = 90

privacy.hold_category_register(SECURITY_LOG, _("Security log (sign-ins, security events, audit trail)"))
privacy.personal(
    "sessions.Session",
    "a signed-in session stores the account's id and how it signed in; ended with the account's sessions",
)


def _models():
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount
    from django_otp.plugins.otp_email.models import EmailDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts import models

    return models, EmailAddress, SocialAccount, TOTPDevice, EmailDevice


def export(user) -> dict:
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth import get_user_model

    models, EmailAddress, SocialAccount, TOTPDevice, EmailDevice = _models()
    profile = privacy.rows(
        get_user_model().objects.filter(pk=user.pk),
        [
            "sub",
            "email",
            "given_name",
            "family_name",
            "nickname",
            "phone_number",
            "phone_number_verified",
            "address",
            "locale",
            "zoneinfo",
            "date_joined",
            "last_login",
        ],
    )
    codes = models.RecoveryCode.objects.filter(user=user)
    return {
        "profile": profile[0] if profile else {},
        "email_addresses": privacy.rows(
            EmailAddress.objects.filter(user=user).order_by("pk"), ["email", "verified", "primary"]
        ),
        "linked_accounts": privacy.rows(
            SocialAccount.objects.filter(user=user).order_by("pk"),
            ["provider", "uid", "date_joined", "last_login", "extra_data"],
        ),
        "sign_in_methods": {
            "authenticator_apps": privacy.rows(
                TOTPDevice.objects.filter(user=user), ["name", "confirmed", "created_at", "last_used_at"]
            ),
            "email_codes": privacy.rows(
                EmailDevice.objects.filter(user=user), ["name", "email", "confirmed", "created_at", "last_used_at"]
            ),
            "passkeys": privacy.rows(
                models.WebAuthnCredential.objects.filter(user=user).order_by("pk"),
                ["name", "created", "last_used_at", "transports", "aaguid", "backup_eligible", "backup_state"],
            ),
            "recovery_codes": {"total": codes.count(), "unused": codes.filter(used_at__isnull=True).count()},
        },
        "sessions": privacy.rows(
            models.UserSession.objects.filter(user=user).order_by("pk"),
            ["created", "last_seen", "ended_at", "ip", "user_agent", "location", "amr"],
        ),
        "phone_verifications": privacy.rows(
            models.PhoneVerification.objects.filter(user=user).order_by("pk"),
            ["phone_number", "created", "expires_at", "attempts", "verified_at"],
        ),
        "known_devices": privacy.rows(
            models.KnownDevice.objects.filter(user=user).order_by("pk"), ["first_seen", "last_seen", "user_agent"]
        ),
        "security_events": privacy.rows(
            models.SecurityEvent.objects.filter(user=user).order_by("created", "pk"),
            ["kind", "created", "ip", "user_agent", "data"],
        ),
        "admin_actions": privacy.rows(
            LogEntry.objects.filter(user=user).order_by("pk"), ["action_time", "object_repr", "action_flag"]
        ),
    }


def erase_sessions(ctx: privacy.StepContext) -> dict:
    from accounts.models import UserSession

    store = import_module(settings.SESSION_ENGINE).SessionStore
    rows = list(UserSession.objects.filter(user_id=ctx.user_ref).values_list("session_key", flat=True))
    for key in rows:
        store().delete(key)
    deleted, _ = UserSession.objects.filter(user_id=ctx.user_ref).delete()
    return {"deleted": deleted}


def erase_second_factors(ctx: privacy.StepContext) -> dict:
    models, _email, _social, TOTPDevice, EmailDevice = _models()
    total = 0
    for model in (TOTPDevice, EmailDevice, models.RecoveryCode, models.WebAuthnCredential):
        total += model.objects.filter(user_id=ctx.user_ref).delete()[0]
    return {"deleted": total}


def erase_linked_accounts(ctx: privacy.StepContext) -> dict:
    from allauth.socialaccount.models import SocialAccount, SocialToken

    tokens = SocialToken.objects.filter(account__user_id=ctx.user_ref).delete()[0]
    return {"deleted": tokens + SocialAccount.objects.filter(user_id=ctx.user_ref).delete()[0]}


def erase_email_addresses(ctx: privacy.StepContext) -> dict:
    from allauth.account.models import EmailAddress, EmailConfirmation

    confirmations = EmailConfirmation.objects.filter(email_address__user_id=ctx.user_ref).delete()[0]
    return {"deleted": confirmations + EmailAddress.objects.filter(user_id=ctx.user_ref).delete()[0]}


def erase_admin_log(ctx: privacy.StepContext) -> dict:
    """Staff's own admin history goes; entries *about* the account keep no name or change text."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType

    own = LogEntry.objects.filter(user_id=ctx.user_ref).delete()[0]
    about = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(get_user_model()), object_id=str(ctx.user_ref)
    ).update(object_repr=f"erased account {ctx.user_ref}", change_message="")
    return {"deleted": own, "pseudonymised": about}


def erase_profile(ctx: privacy.StepContext) -> dict:
    """Keep the row (held data may still point at it) but nothing that names or reaches the person."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.select_for_update().filter(pk=ctx.user_ref).first()
    if user is None:
        return {"pseudonymised": 0}
    user.email = f"erased-{user.pk}@erased.invalid"
    user.given_name = user.family_name = user.nickname = user.phone_number = ""
    user.locale = user.zoneinfo = ""
    user.phone_number_verified = False
    user.address = {}
    user.last_login = None
    user.is_active = False
    user.set_unusable_password()
    user.save()
    return {"pseudonymised": 1}


def erase_account(ctx: privacy.StepContext) -> dict:
    from django.contrib.auth import get_user_model

    deleted, _ = get_user_model().objects.filter(pk=ctx.user_ref).delete()
    return {"deleted": deleted}


def flagged_passkey_hold(user, now) -> list[privacy.HoldSpec]:
    """Example hold rule: a passkey flagged as possibly cloned keeps the security log for 90 days.

    The sign counter of a passkey went backwards (``WebAuthnCredential.flagged_at``): the
    security events may be needed to investigate an account takeover, so they outlive the
    account until 90 days after the flag.
    """
    from accounts.models import WebAuthnCredential

    holds = []
    for passkey in WebAuthnCredential.objects.filter(user=user, flagged_at__isnull=False):
        ends_at = passkey.flagged_at + timedelta(days=FLAGGED_PASSKEY_HOLD_DAYS)
        if ends_at > now:
            holds.append(
                privacy.HoldSpec(
                    category=SECURITY_LOG,
                    reason=f"passkey {passkey.pk} flagged as possibly cloned on {passkey.flagged_at:%Y-%m-%d}",
                    ends_at=ends_at,
                    key=f"passkey:{passkey.pk}",
                )
            )
    return holds


privacy.hold_rule_register("flagged_passkey", flagged_passkey_hold)

D, P = privacy.DELETE, privacy.PSEUDONYMISE
privacy.plan_register(
    privacy.Plan(
        name="accounts",
        title=_("Your account"),
        page_order=100,
        order=900,
        models=(
            settings.AUTH_USER_MODEL,
            "accounts.SecurityEvent",
            "accounts.WebAuthnCredential",
            "accounts.RecoveryCode",
            "accounts.UserSession",
            "accounts.KnownDevice",
            "accounts.PhoneVerification",
            "account.EmailAddress",
            "account.EmailConfirmation",
            "socialaccount.SocialAccount",
            "socialaccount.SocialToken",
            "otp_totp.TOTPDevice",
            "otp_email.EmailDevice",
            "admin.LogEntry",
            "sessions.Session",
        ),
        export=export,
        steps=(
            privacy.Step("sessions", erase_sessions, D, description="signed-in sessions and their list"),
            privacy.Step("second_factors", erase_second_factors, D, description="TOTP, email codes, passkeys"),
            privacy.Step("linked_accounts", erase_linked_accounts, D, description="social logins and tokens"),
            privacy.Step("known_devices", privacy.delete("accounts.KnownDevice"), D),
            privacy.Step(
                "phone_verifications",
                privacy.delete("accounts.PhoneVerification"),
                D,
                description="codes sent by text message to verify a phone number",
            ),
            privacy.Step("email_addresses", erase_email_addresses, D),
            privacy.Step("security_events", privacy.delete("accounts.SecurityEvent"), D, hold_category=SECURITY_LOG),
            privacy.Step("admin_log", erase_admin_log, D),
            privacy.Step("profile", erase_profile, P, description="name, email, phone, address, password"),
            privacy.Step("account", erase_account, D, final=True, description="the account row itself"),
        ),
        corrections=(
            (_("Email addresses"), "account_email"),
            (_("Phone number"), "accounts:phone_change"),
            (_("Change password"), "account_change_password"),
            (_("Sign-in methods"), "accounts:mfa_overview"),
            (_("Linked accounts"), "accounts:social_connections"),
            (_("Your devices"), "accounts:security_sessions"),
        ),
        labels={
            "profile": _("Profile"),
            "email_addresses": _("Email addresses"),
            "linked_accounts": _("Linked accounts"),
            "sign_in_methods": _("Sign-in methods"),
            "sessions": _("Sessions"),
            "known_devices": _("Known devices"),
            "phone_verifications": _("Phone number checks"),
            "security_events": _("Security activity"),
            "admin_actions": _("Staff actions in the admin"),
        },
    )
)

from accounts.profile import privacy as _profile_attributes_plan  # noqa: E402,F401 - its own plan
