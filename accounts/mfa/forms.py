"""Forms of the second-factor and passkey pages: they only unpack input."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.mfa import selectors

CREDENTIAL_MAX = 64 * 1024


class CodeForm(forms.Form):
    """One code: from the authenticator app, a recovery code, or the emailed code."""

    method = forms.ChoiceField(choices=[(m, m) for m in selectors.CODE_METHODS], widget=forms.HiddenInput)
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )

    def __init__(self, *args, method: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if method:
            self.fields["method"].initial = method
            if method != selectors.RECOVERY_CODES:
                self.fields["code"].widget.attrs.update({"inputmode": "numeric", "pattern": "[0-9 ]*"})
            labels = {
                selectors.TOTP: _("Code from your authenticator app"),
                selectors.RECOVERY_CODES: _("Recovery code"),
                selectors.EMAIL: _("Code from the email"),
            }
            self.fields["code"].label = labels.get(method, _("Code"))
            self.auto_id = f"id_{method}_%s"


class CredentialForm(forms.Form):
    """A WebAuthn response, as JSON, filled in by static/js/passkeys.js."""

    credential = forms.CharField(widget=forms.HiddenInput, max_length=CREDENTIAL_MAX)


class PasskeyAddForm(CredentialForm):
    name = forms.CharField(
        label=_("Name of the passkey"),
        max_length=64,
        required=False,
        help_text=_("To tell your passkeys apart, e.g. “Phone” or “Laptop”."),
    )


class PasskeyRenameForm(forms.Form):
    name = forms.CharField(label=_("Name of the passkey"), max_length=64)


class TOTPConfirmForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*"}),
    )
