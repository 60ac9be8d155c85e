from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core.exceptions import ImmediateHttpResponse
from django import forms
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class LoginForm(AllauthLoginForm):
    """Login form that honours the RP's ``login_hint`` (OIDC Core §3.1.2.1) as the email."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Passkey autofill (conditional mediation) offers passkeys from the email field.
        self.fields["login"].widget.attrs["autocomplete"] = "username webauthn"
        request = self.request
        if request is None or self.is_bound:
            return
        hint = request.GET.get("login_hint")
        nxt = request.GET.get("next")
        if not hint and nxt:
            hint = parse_qs(urlsplit(nxt).query).get("login_hint", [""])[0]
        if hint and "@" in hint and len(hint) <= 254:
            self.fields["login"].initial = hint

    def _clean_with_password(self, credentials: dict):
        try:
            return super()._clean_with_password(credentials)
        except forms.ValidationError:
            from accounts.services import weak_password_renewal_start

            # An imported hash too weak to sign in with, and the member typed its password: send a
            # code to set a new one (allauth's password reset by code). Anyone else sees the usual
            # error, so this tells nothing to someone who does not know the password.
            response = weak_password_renewal_start(
                request=self.request, email=credentials.get("email") or "", password=credentials.get("password") or ""
            )
            if response is not None:
                raise ImmediateHttpResponse(response) from None
            raise


class SignupForm(AllauthSignupForm):
    """allauth's email + password sign-up, plus acceptance of the published legal documents and
    the privacy opt-ins staff offer at sign-up and a box to join each open points programme (all
    unticked and optional).

    The ``accept_legal`` checkbox exists only while documents are published; the acceptance
    is recorded with its evidence (``consent.legal.services.legal_accept``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from consent.legal import selectors as legal_selectors
        from consent.purposes.forms import signup_consent_fields
        from loyalty.forms import signup_join_fields

        self.legal_versions = legal_selectors.current_versions()
        if self.legal_versions:
            links = format_html_join(
                ", ",
                '<a href="{}" target="_blank" rel="noopener">{}</a>',
                (
                    (
                        reverse("legal:document_version", args=[v.document.slug, v.version]),
                        getattr(legal_selectors.text_for(v, get_language()), "title", v.document.name),
                    )
                    for v in self.legal_versions
                ),
            )
            self.fields["accept_legal"] = forms.BooleanField(
                label=_("I have read and accept these documents"),
                help_text=links,
                error_messages={"required": _("Accept the terms to create your account.")},
            )
        self.fields.update(signup_consent_fields())
        self.fields.update(signup_join_fields())

    def custom_signup(self, request, user):
        super().custom_signup(request, user)
        from consent.purposes.forms import signup_consents_save
        from loyalty.forms import signup_join_save

        signup_consents_save(cleaned_data=self.cleaned_data, request=request, user=user)
        signup_join_save(cleaned_data=self.cleaned_data, user=user)
        if not self.legal_versions:
            return
        from accounts.security import geo
        from consent.legal import selectors as legal_selectors
        from consent.legal import services as legal_services

        nxt = request.POST.get("next") or request.GET.get("next")
        legal_services.legal_accept(
            user=user,
            versions=self.legal_versions,
            language=get_language(),
            channel="signup",
            client=legal_selectors.client_from_next(nxt),
            ip=geo.client_ip(request),
            user_agent=geo.user_agent(request),
        )
