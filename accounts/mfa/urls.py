"""Mounted at /account/mfa/ in the ``accounts`` namespace."""

from __future__ import annotations

from django.urls import path

from accounts.mfa import views

urlpatterns = [
    path("", views.overview, name="mfa_overview"),
    # The second step of a login (allauth login stage), and enrolment where MFA is required.
    path("authenticate", views.authenticate, name="mfa_authenticate"),
    path("authenticate/options", views.authenticate_options, name="mfa_authenticate_options"),
    path("enrol", views.enrol, name="mfa_enrol"),
    path("enrol/options", views.enrol_options, name="mfa_enrol_options"),
    # Signed in: ask for what the requested acr lacks; re-authenticate for sensitive actions.
    path("step-up", views.step_up, name="step_up"),
    path("reauthenticate/passkey", views.reauthenticate_passkey, name="mfa_reauthenticate_passkey"),
    path("reauthenticate/code", views.reauthenticate_code, name="mfa_reauthenticate_code"),
    # Factors of the signed-in member.
    path("totp", views.totp_setup, name="mfa_totp_setup"),
    path("totp/remove", views.totp_remove, name="mfa_totp_remove"),
    path("recovery-codes", views.recovery_codes, name="mfa_recovery_codes"),
    path("email/enable", views.email_enable, name="mfa_email_enable"),
    path("email/disable", views.email_disable, name="mfa_email_disable"),
    path("passkeys/add", views.passkey_add, name="mfa_passkey_add"),
    path("passkeys/add/options", views.passkey_add_options, name="mfa_passkey_add_options"),
    path("passkeys/<int:pk>/rename", views.passkey_rename, name="mfa_passkey_rename"),
    path("passkeys/<int:pk>/remove", views.passkey_remove, name="mfa_passkey_remove"),
    path("passkeys/options", views.passkey_options, name="mfa_passkey_options"),
    # Passwordless sign-in and sign-up.
    path("passkeys/login", views.passkey_login, name="mfa_passkey_login"),
    path("passkeys/login/options", views.passkey_login_options, name="mfa_passkey_login_options"),
    path("passkeys/signup", views.passkey_signup, name="mfa_passkey_signup"),
    path("passkeys/signup/options", views.passkey_signup_options, name="mfa_passkey_signup_options"),
]
