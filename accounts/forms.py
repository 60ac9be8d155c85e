from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import SignupForm as AllauthSignupForm


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


class SignupForm(AllauthSignupForm):
    """allauth's sign-up form plus the privacy opt-ins staff offer at sign-up, all unticked and
    optional (email and password alone still sign up)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from consent.purposes.forms import signup_consent_fields

        self.fields.update(signup_consent_fields())

    def custom_signup(self, request, user) -> None:
        super().custom_signup(request, user)
        from consent.purposes.forms import signup_consents_save

        signup_consents_save(cleaned_data=self.cleaned_data, request=request, user=user)
