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


JOIN_PREFIX = "join_program_"


def signup_join_fields() -> dict[str, forms.BooleanField]:
    """One unticked, optional "join" box per programme open for new members (sign-up page)."""
    from loyalty.models import Program

    return {
        JOIN_PREFIX + program.slug: forms.BooleanField(
            required=False,
            label=_("Join %(program)s and collect points") % {"program": program.name},
        )
        for program in Program.objects.filter(is_active=True).order_by("name")
    }


def signup_join_save(*, cleaned_data: dict, user) -> list:
    """Memberships for the boxes the new member ticked."""
    from loyalty import services
    from loyalty.models import Program

    slugs = [key[len(JOIN_PREFIX) :] for key, value in cleaned_data.items() if key.startswith(JOIN_PREFIX) and value]
    return [
        services.membership_join(user=user, program=program)
        for program in Program.objects.filter(slug__in=slugs, is_active=True)
    ]
