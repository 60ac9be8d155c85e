"""Forms of the privacy pages, and the opt-in boxes the sign-up form borrows."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from consent.models import ConsentRecord, Purpose
from consent.purposes import selectors, services

SIGNUP_PREFIX = "consent_"


class ConsentToggleForm(forms.Form):
    """Turn one purpose on or off: one button either way, so withdrawing is as easy as giving."""

    purpose = forms.ChoiceField(label=_("Purpose"))
    granted = forms.TypedChoiceField(
        label=_("Choice"), choices=[("1", _("On")), ("0", _("Off"))], coerce=lambda value: value == "1"
    )

    def __init__(self, *args, purposes: list[Purpose], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purpose"].choices = [(p.code, p.code) for p in purposes]


# --- sign-up ---------------------------------------------------------------------------------------


def signup_consent_fields(*, language: str | None = None) -> dict[str, forms.BooleanField]:
    """An unticked, optional box per purpose offered at sign-up, labelled in the member's language."""
    purposes = selectors.purposes_at_signup()
    texts = selectors.texts_for(purposes, language=language)
    fields = {}
    for purpose in purposes:
        text = texts.get(purpose.pk)
        if text is None:  # never ask for something we cannot describe
            continue
        fields[SIGNUP_PREFIX + purpose.code] = forms.BooleanField(
            label=text.name, help_text=text.description, required=False, initial=False
        )
    return fields


def signup_consents_save(*, cleaned_data: dict, request: HttpRequest, user) -> list[ConsentRecord]:
    """Record the boxes the new member ticked (unticked ones are the default: nothing to record)."""
    offered = {p.code for p in selectors.purposes_at_signup()}
    changes = {
        name.removeprefix(SIGNUP_PREFIX): True
        for name, value in cleaned_data.items()
        if name.startswith(SIGNUP_PREFIX) and value is True and name.removeprefix(SIGNUP_PREFIX) in offered
    }
    if not changes:
        return []
    from idp.context_processors import branding

    return services.consent_change(
        user=user,
        changes=changes,
        channel=ConsentRecord.Channel.SIGNUP,
        client=branding(request).get("rp_client"),
        request=request,
    )
