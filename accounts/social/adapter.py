from __future__ import annotations

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers.base.constants import AuthProcess
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.social import selectors, services


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Social sign-in policy: the account linking rules of ``accounts.social.services``.

    allauth calls ``pre_social_login`` after the upstream authenticated the person and before
    anyone is signed in; this is where an email match is stopped and sent to prove ownership.
    """

    def pre_social_login(self, request, sociallogin) -> None:
        services.social_link_discard(request=request)
        process = sociallogin.state.get("process")
        if process == AuthProcess.CONNECT:
            if request.user.is_authenticated:
                raise ImmediateHttpResponse(self._connect(request, sociallogin))
            return  # allauth sends an anonymous "connect" to the login page
        if process == AuthProcess.REDIRECT or sociallogin.is_existing:
            return
        match = selectors.existing_account_for(sociallogin)
        if match is None:
            return  # a new member: allauth signs them up
        if not match.user.is_active:
            services.social_login_refuse(request=request, user=match.user, sociallogin=sociallogin, reason="inactive")
            raise ImmediateHttpResponse(render(request, "account/account_inactive.html", status=403))
        if match.upstream_verified:
            services.social_link_begin(request=request, sociallogin=sociallogin, match=match)
            raise ImmediateHttpResponse(redirect("accounts:social_link"))
        services.social_login_refuse(
            request=request, user=match.user, sociallogin=sociallogin, reason="unverified_email"
        )
        services.social_signup_offer(request=request, sociallogin=sociallogin)
        context = {
            "provider_name": sociallogin.provider.name if sociallogin.provider else sociallogin.account.provider,
            "email": match.email,
            "login_url": _login_url(sociallogin.state.get("next")),
        }
        raise ImmediateHttpResponse(render(request, "accounts/social/unverified_email.html", context, status=409))

    def _connect(self, request, sociallogin):
        """A signed-in member links another upstream account from the linked-accounts page."""
        name = sociallogin.provider.name if sociallogin.provider else sociallogin.account.provider
        if sociallogin.is_existing:
            if sociallogin.user.pk != request.user.pk:
                services.social_login_refuse(
                    request=request, user=request.user, sociallogin=sociallogin, reason="connected_other"
                )
                messages.error(
                    request,
                    _("This %(provider)s account is already linked to another member account.") % {"provider": name},
                )
            else:
                messages.info(request, _("This %(provider)s account is already linked.") % {"provider": name})
        else:
            try:
                services.social_account_link(
                    request=request, user=request.user, sociallogin=sociallogin, proof="session"
                )
            except services.SocialAccountError as e:
                messages.error(request, e.message)
            else:
                messages.success(request, _("Your %(provider)s account is now linked.") % {"provider": name})
        return redirect(sociallogin.get_redirect_url(request) or reverse("accounts:social_connections"))

    def save_user(self, request, sociallogin, form=None):
        with transaction.atomic():
            user = super().save_user(request, sociallogin, form=form)
            services.social_signup_record(request=request, user=user, sociallogin=sociallogin)
        return user

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        first, _sep, last = (data.get("name") or "").partition(" ")
        user.given_name = (data.get("first_name") or first or "")[:150]
        user.family_name = (data.get("last_name") or last or "")[:150]
        return user

    def on_authentication_error(self, request, provider, error=None, exception=None, extra_context=None) -> None:
        services.social_login_failure_record(
            request=request,
            provider_id=getattr(provider, "sub_id", "") or "",
            error=str(error or "unknown"),
            exception=exception,
        )

    def get_connect_redirect_url(self, request, socialaccount) -> str:
        return reverse("accounts:social_connections")

    def validate_disconnect(self, account, accounts) -> None:
        # Unlinking goes through accounts.social.services (our rules and a security event).
        raise self.validation_error("use_linked_accounts_page")

    error_messages = {
        **DefaultSocialAccountAdapter.error_messages,
        "use_linked_accounts_page": gettext_lazy("Unlink accounts on the Linked accounts page."),
    }


def _login_url(next_url: str | None) -> str:
    url = reverse("account_login")
    if next_url:
        url += "?" + urlencode({"next": next_url})
    return url
