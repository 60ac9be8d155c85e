"""Member forms built from definitions: the attributes page and the one-question page.

Fields are plain text or radio inputs; what a value may be is decided in one place,
:func:`accounts.profile.validation.values_clean`, which these forms call.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.profile import validation


def _choices_for(definition, current, *, blank: bool) -> list[tuple[str, str]]:
    if definition.data_type == "boolean":
        options = [("yes", _("Yes")), ("no", _("No"))]
    else:
        options = [(c.value, validation.label_for(c)) for c in definition.choices.all() if not c.retired]
        if isinstance(current, str) and current not in dict(options):
            # A retired (or deleted) choice the member has: offered so that saving keeps it.
            label = validation.display_value(definition, current)
            options.append((current, _("%(label)s (no longer offered)") % {"label": label}))
    if blank:
        options.insert(0, ("", _("Not set")))
    return options


def _initial(definition, current) -> str:
    if current is None:
        return ""
    if definition.data_type == "boolean" and isinstance(current, bool):
        return "yes" if current else "no"
    return str(current)


def attribute_field(definition, current=None, *, blank: bool = True) -> forms.Field:
    kind = definition.data_type
    common = {
        "label": validation.label_for(definition),
        "help_text": validation.help_for(definition),
        "required": False,
        "initial": _initial(definition, current),
        "strip": True,
    }
    if kind in ("boolean", "choice"):
        widget = forms.RadioSelect(choices=_choices_for(definition, current, blank=blank))
    elif kind == "number":
        widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    elif kind == "date":
        widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    else:
        widget = forms.TextInput(attrs={"maxlength": definition.max_length})
    return forms.CharField(widget=widget, **common)


class AttributesForm(forms.Form):
    """One field per definition (named by key); ``changes`` holds what to write after validation."""

    def __init__(self, *args, definitions: dict, current: dict, blank: bool = True, **kwargs):
        kwargs.setdefault("prefix", "attr")
        super().__init__(*args, **kwargs)
        self.definitions = definitions
        self.current = current
        self.changes: dict = {}
        for key, definition in definitions.items():
            self.fields[key] = attribute_field(definition, current.get(key), blank=blank)

    def clean(self):
        cleaned = super().clean()
        changes: dict = {}
        for key, definition in self.definitions.items():
            if key in self.errors:
                continue
            try:
                value = validation.value_from_form(definition, cleaned.get(key))
            except forms.ValidationError as error:
                self.add_error(key, error)
                continue
            stored = self.current.get(key)
            if value is None and stored is None:
                continue
            if value is not None and stored is not None and validation.same(stored, value):
                continue
            changes[key] = value
        try:
            validation.values_clean(definitions=self.definitions, changes=changes, current=self.current)
        except validation.AttributeValuesInvalid as invalid:
            for key, errors in invalid.field_errors.items():
                self.add_error(key, errors)
        self.changes = changes
        return cleaned


class QuestionForm(AttributesForm):
    """The sign-in question: one attribute, an answer is needed to save (skipping is a button)."""

    def __init__(self, *args, definition, **kwargs):
        super().__init__(*args, definitions={definition.key: definition}, current={}, blank=False, **kwargs)
        self.definition = definition

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not self.changes:
            self.add_error(self.definition.key, forms.ValidationError(_("Answer the question, or skip it.")))
        return cleaned


class NameForm(forms.Form):
    """The member's name as relying parties receive it (``given_name``, ``family_name``, ``nickname``)."""

    family_name = forms.CharField(label=_("Family name"), max_length=150, required=False)
    given_name = forms.CharField(label=_("Given name"), max_length=150, required=False)
    nickname = forms.CharField(label=_("Nickname"), max_length=150, required=False)
