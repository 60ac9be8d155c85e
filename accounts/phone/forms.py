from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class PhoneNumberForm(forms.Form):
    phone_number = forms.CharField(
        label=_("Phone number"),
        max_length=32,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
        help_text=_("We will send a 6-digit code to this number by text message."),
    )


class PhoneCodeForm(forms.Form):
    code = forms.RegexField(
        label=_("Code"),
        regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Enter the 6 digits of the code.")},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": "6", "pattern": r"\d{6}"}
        ),
    )
