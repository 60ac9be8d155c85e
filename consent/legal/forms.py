from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class AcceptForm(forms.Form):
    """The versions the page showed (all pending ones, accepted together) and the page's language."""

    versions = forms.TypedMultipleChoiceField(
        coerce=int,
        widget=forms.MultipleHiddenInput,
        error_messages={
            "invalid_choice": _("These documents are not the current versions. Read the versions below."),
            "required": _("These documents are not the current versions. Read the versions below."),
        },
    )
    language = forms.ChoiceField(choices=settings.LANGUAGES, widget=forms.HiddenInput)

    def __init__(self, *args, pending, **kwargs):
        super().__init__(*args, **kwargs)
        self.pending_ids = {v.pk for v in pending}
        self.fields["versions"].choices = [(v.pk, str(v)) for v in pending]
        if not self.is_bound:
            self.fields["versions"].initial = sorted(self.pending_ids)

    def clean_versions(self):
        versions = set(self.cleaned_data["versions"])
        if versions != self.pending_ids:
            # A version was published while the member read the page: show the new one first.
            raise forms.ValidationError(
                _("These documents are not the current versions. Read the versions below."), code="stale"
            )
        return sorted(versions)
