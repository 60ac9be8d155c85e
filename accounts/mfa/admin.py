"""The staff admin behind a second factor (in the spirit of django-otp's ``OTPAdminSite``).

Staff sign in on the hosted login page, whose second-factor stage always applies to them
(:func:`accounts.selectors.mfa_required_for_user`). The admin then also checks the session
itself: its acr, derived from the authentication records, must be MFA or better, whether it
came from a code, a passkey as second factor or a passwordless passkey. A staff session
without one is sent to step-up instead of the admin's own password form.

Install it either way (nothing here imports models at import time):

* ``INSTALLED_APPS``: replace ``"django.contrib.admin"`` with
  ``"accounts.mfa.admin.MFAAdminConfig"`` (``admin.site`` becomes an :class:`MFAAdminSite`);
* or in ``idp/urls.py``: ``admin.site.__class__ = MFAAdminSite`` before ``urlpatterns``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.sites import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def session_has_mfa(request: HttpRequest) -> bool:
    """Did this session prove a second factor (acr ``urn:ciam:acr:mfa`` or stronger)?"""
    from accounts.services import ACR_LEVELS, ACR_MFA, authentication_context

    if not request.user.is_authenticated:
        return False
    return ACR_LEVELS[authentication_context(request)["acr"]] >= ACR_LEVELS[ACR_MFA]


class MFAAdminSite(AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        """Every admin, ours and third-party, masks members' personal data by role and writes the
        staff audit log (:mod:`staff.admin_mixins`)."""
        from django.contrib.admin import ModelAdmin

        from staff.admin_mixins import staff_admin_class

        return super().register(model_or_iterable, staff_admin_class(admin_class or ModelAdmin), **options)

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and session_has_mfa(request)

    def login(self, request: HttpRequest, extra_context=None):
        """No password form here: the hosted login (with its second step), or step-up."""
        from django.contrib.auth.views import redirect_to_login

        from accounts.services import ACR_MFA

        index = reverse("admin:index", current_app=self.name)
        nxt = request.GET.get("next") or index
        if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
            nxt = index
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(nxt, reverse("account_login"))
        if not (user.is_active and user.is_staff):
            raise PermissionDenied
        if session_has_mfa(request):
            return HttpResponseRedirect(nxt)
        return HttpResponseRedirect(reverse("accounts:step_up") + "?" + urlencode({"next": nxt, "acr": ACR_MFA}))


class MFAAdminConfig(AdminConfig):
    default_site = "accounts.mfa.admin.MFAAdminSite"
