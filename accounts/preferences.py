"""The accounts app's cards on the account page (``idp.preferences``): each reads a little, once."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

MAX_ROWS = 5


def profile_section(request: HttpRequest) -> dict:
    from accounts.profile import selectors

    rows = selectors.member_attributes(request.user)  # 3 queries: values, definitions, their choices
    answered = [row for row in rows if row["value"] is not None]
    return {"answered": answered[:MAX_ROWS], "answered_count": len(answered), "total": len(rows)}


def contact_section(request: HttpRequest) -> dict:
    from allauth.account.models import EmailAddress

    addresses = list(EmailAddress.objects.filter(user=request.user).order_by("-primary", "email")[: MAX_ROWS + 1])
    primary = next((a for a in addresses if a.primary), None)
    pending = [a for a in addresses if not a.verified and not a.primary]
    return {"primary": primary, "email": request.user.email, "pending": pending[:MAX_ROWS]}


def password_section(request: HttpRequest) -> dict:
    return {"has_password": request.user.has_usable_password()}


def sign_in_methods_section(request: HttpRequest) -> dict:
    from accounts.mfa.selectors import factor_summary

    return {"factors": factor_summary(request.user)}


def social_section(request: HttpRequest) -> dict:
    from allauth.socialaccount.models import SocialAccount

    from accounts.social.selectors import account_label, provider_names

    accounts = list(SocialAccount.objects.filter(user=request.user).order_by("date_joined", "pk")[:MAX_ROWS])
    if not accounts:
        return {"linked": []}
    names = provider_names(request)
    return {"linked": [(names.get(a.provider, a.provider), account_label(a)) for a in accounts]}


def sessions_section(request: HttpRequest) -> dict:
    from accounts.security.selectors import active_sessions, current_session_id
    from accounts.security.useragent import describe_device

    current = current_session_id(request)
    rows = list(active_sessions(user=request.user).order_by("-last_seen")[:MAX_ROWS])
    return {
        "devices": [(describe_device(row.user_agent), row.location, row.last_seen, row.pk == current) for row in rows]
    }


def register() -> None:
    from idp.preferences import register_section

    register_section(
        "profile",
        title=_("About you"),
        order=10,
        template="accounts/preferences/profile.html",
        context=profile_section,
        url_name="accounts:profile_attributes",
    )
    register_section(
        "contact",
        title=_("Email and phone"),
        order=20,
        template="accounts/preferences/contact.html",
        context=contact_section,
        url_name="account_email",
    )
    register_section(
        "password",
        title=_("Password"),
        order=30,
        template="accounts/preferences/password.html",
        context=password_section,
        url_name="account_change_password",
    )
    register_section(
        "sign-in-methods",
        title=_("Sign-in methods"),
        order=40,
        template="accounts/preferences/sign_in_methods.html",
        context=sign_in_methods_section,
        url_name="accounts:mfa_overview",
    )
    register_section(
        "linked-accounts",
        title=_("Linked accounts"),
        order=50,
        template="accounts/preferences/social.html",
        context=social_section,
        url_name="accounts:social_connections",
    )
    register_section(
        "devices",
        title=_("Your devices"),
        order=60,
        template="accounts/preferences/sessions.html",
        context=sessions_section,
        url_name="accounts:security_sessions",
    )
