from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class AccountDeleteForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand that my account and my data will be deleted and that this cannot be undone."),
        error_messages={"required": _("Tick the box to confirm that you want to delete your account.")},
    )
