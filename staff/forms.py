from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from staff.app_settings import staff_settings


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        label=_("Why do you need to see this member's personal data?"),
        help_text=_("Recorded in the staff audit log with your name, for example the support ticket number."),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_reason(self):
        reason = " ".join(self.cleaned_data["reason"].split())
        minimum = staff_settings.REASON_MIN_LENGTH
        if len(reason) < minimum:
            raise forms.ValidationError(_("Give a reason of at least %(count)d characters."), params={"count": minimum})
        return reason
