"""Signal receivers of account protection: they unpack the signal and call a service.

Connected by ``accounts.apps.AccountsConfig.ready``. Django's ``user_logged_in`` fires for
every sign-in (allauth's, the admin's, ``Client.login``); allauth's fires after it, with the
response, which is where the device cookie is set.
"""

from __future__ import annotations

from allauth.account import signals as allauth_signals
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver

from accounts.security import (
    services,
    tasks,  # noqa: F401 - registers the tasks with Celery
)

_SIGNED_UP = "_security_signed_up"


def _has_session(request) -> bool:
    return request is not None and hasattr(request, "session")


@receiver(auth_signals.user_logged_in, dispatch_uid="accounts.security.login")
def on_logged_in(sender, request, user, **kwargs):
    if _has_session(request):
        services.login_record(request=request, user=user, signup=getattr(request, _SIGNED_UP, False))


@receiver(allauth_signals.user_logged_in, dispatch_uid="accounts.security.login_device")
def on_allauth_logged_in(sender, request, user, response=None, **kwargs):
    if _has_session(request):
        services.login_device_note(
            request=request, response=response, user=user, signup=getattr(request, _SIGNED_UP, False)
        )


@receiver(auth_signals.user_logged_out, dispatch_uid="accounts.security.logout")
def on_logged_out(sender, request, user, **kwargs):
    if user is not None and _has_session(request):
        services.logout_record(request=request, user=user)


@receiver(auth_signals.user_login_failed, dispatch_uid="accounts.security.login_failed")
def on_login_failed(sender, credentials, request=None, **kwargs):
    if request is None:
        return
    login = credentials.get("email") or credentials.get("username") or credentials.get("login") or ""
    services.login_failure_record(request=request, login=str(login))


@receiver(allauth_signals.user_signed_up, dispatch_uid="accounts.security.signup")
def on_signed_up(sender, request, user, sociallogin=None, signup_method: str = "", **kwargs):
    if request is not None:
        setattr(request, _SIGNED_UP, True)
        if sociallogin is not None:
            method = services.SIGNUP_SOCIAL_PREFIX + sociallogin.account.provider
        else:
            method = signup_method or services.SIGNUP_PASSWORD
        services.signup_record(request=request, user=user, method=method)


@receiver(allauth_signals.password_changed, dispatch_uid="accounts.security.password_changed")
@receiver(allauth_signals.password_set, dispatch_uid="accounts.security.password_set")
def on_password_changed(sender, request, user, **kwargs):
    services.password_change_record(request=request, user=user, reset=False)


@receiver(allauth_signals.password_reset, dispatch_uid="accounts.security.password_reset")
def on_password_reset(sender, request, user, **kwargs):
    services.password_change_record(request=request, user=user, reset=True)


@receiver(allauth_signals.email_changed, dispatch_uid="accounts.security.email_changed")
def on_email_changed(sender, request, user, from_email_address=None, to_email_address=None, **kwargs):
    services.email_change_record(
        request=request,
        user=user,
        old_email=getattr(from_email_address, "email", "") or "",
        new_email=getattr(to_email_address, "email", "") or "",
    )
