from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _


class RedeemForm(forms.Form):
    points = forms.IntegerField(label=_("Points to redeem"), min_value=1)
    description = forms.CharField(label=_("What for (optional)"), max_length=200, required=False)
    # One key per rendering of the form: a double submit or a retried POST redeems once.
    key = forms.CharField(widget=forms.HiddenInput, max_length=255)

    def __init__(self, *args, max_points: int | None = None, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("key", str(uuid.uuid4()))
        super().__init__(*args, **kwargs)
        if max_points is not None:
            self.fields["points"] = forms.IntegerField(label=_("Points to redeem"), min_value=1, max_value=max_points)
