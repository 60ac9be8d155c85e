"""Staff define attributes (type, labels, choices, scope, client access, questions at sign-in) and
look members' values up. Every rule is in :mod:`accounts.profile.validation` and the services."""

from __future__ import annotations

import copy
import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from accounts.models import AttributeAccess, AttributeChoice, AttributeDefinition, MemberAttributes
from accounts.profile import selectors, services, validation
from idp.api import DomainError


class AttributeDefinitionForm(forms.ModelForm):
    scope = forms.ChoiceField(label=_("scope"), choices=())

    class Meta:
        model = AttributeDefinition
        fields = (
            "key",
            "data_type",
            "scope",
            "personal_data",
            "active",
            "position",
            "label_en",
            "label_ja",
            "help_en",
            "help_ja",
            "max_length",
            "min_value",
            "max_value",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = [(s, s) for s in selectors.attribute_scopes()]
        self.fields["scope"].help_text = AttributeDefinition._meta.get_field("scope").help_text

    def clean(self):
        cleaned = super().clean()
        proposed = copy.copy(self.instance)
        for name, value in cleaned.items():
            setattr(proposed, name, value)
        original = AttributeDefinition.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
        errors = validation.definition_errors(proposed, original=original, scopes=selectors.attribute_scopes())
        for name, message in errors.items():
            self.add_error(name if name in self.fields else None, message)
        return cleaned


class ChoiceFormSet(forms.BaseInlineFormSet):
    """A choice members have stored can be retired, not deleted or renamed."""

    def clean(self):
        super().clean()
        definition = self.instance
        if definition.pk is None:
            return
        for form in self.forms:
            original = form.instance
            if original.pk is None or not hasattr(form, "cleaned_data"):
                continue
            stored = AttributeChoice.objects.filter(pk=original.pk).values_list("value", flat=True).first()
            deleting = form.cleaned_data.get("DELETE")
            renaming = form.cleaned_data.get("value") not in (None, stored)
            if (deleting or renaming) and stored and selectors.choice_in_use(definition, stored):
                raise ValidationError(
                    _("Members have chosen “%(value)s”: retire it instead of deleting or renaming it."),
                    params={"value": stored},
                )


class AttributeChoiceInline(admin.TabularInline):
    model = AttributeChoice
    formset = ChoiceFormSet
    fields = ("value", "label_en", "label_ja", "retired", "position")
    extra = 0


class AttributeAccessForm(forms.ModelForm):
    class Meta:
        model = AttributeAccess
        fields = ("definition", "client", "can_read", "can_write", "ask_position")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("ask_position") is not None and not cleaned.get("can_read"):
            self.add_error("can_read", _("A client that asks for an attribute must be allowed to read it."))
        return cleaned


class AttributeAccessInline(admin.TabularInline):
    model = AttributeAccess
    form = AttributeAccessForm
    fields = ("client", "can_read", "can_write", "ask_position")
    raw_id_fields = ("client",)
    extra = 0


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(admin.ModelAdmin):
    form = AttributeDefinitionForm
    list_display = ("key", "label_en", "label_ja", "data_type", "scope", "personal_data", "active", "has_values")
    list_filter = ("data_type", "scope", "active", "personal_data")
    search_fields = ("key", "label_en", "label_ja")
    inlines = (AttributeChoiceInline, AttributeAccessInline)
    fieldsets = (
        (None, {"fields": ("key", "data_type", "scope", "personal_data", "active", "position", "has_values")}),
        (_("Labels"), {"fields": ("label_en", "label_ja", "help_en", "help_ja")}),
        (_("Limits"), {"fields": ("max_length", "min_value", "max_value")}),
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.has_values:
            return ("key", "data_type", "has_values")
        return ("has_values",)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.has_values:
            return False  # deactivate instead: members' values stay readable and exportable
        return super().has_delete_permission(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:  # a value was stored between the form check and the save
            self.message_user(request, f"{error.title} {error.extra.get('errors', '')}", level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        services.attribute_definition_save(definition=obj, by=request.user)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.attribute_definition_audit(definition=form.instance, by=request.user, created=not change)


@admin.register(AttributeAccess)
class AttributeAccessAdmin(admin.ModelAdmin):
    """A client's attributes in one list: what it reads, writes and asks for, in asking order."""

    list_display = ("client", "definition", "can_read", "can_write", "ask_position")
    list_filter = ("client", "can_write")
    ordering = ("client", "ask_position", "definition__key")
    raw_id_fields = ("client",)
    list_select_related = ("client", "definition")
    form = AttributeAccessForm

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.attribute_definition_audit(definition=obj.definition, by=request.user)

    def delete_model(self, request, obj):
        definition = obj.definition
        super().delete_model(request, obj)
        services.attribute_definition_audit(definition=definition, by=request.user)


class MemberAttributesForm(forms.ModelForm):
    """Staff edit a member's values as JSON; checked like every other write."""

    class Meta:
        model = MemberAttributes
        fields = ("data",)

    def clean_data(self):
        data = self.cleaned_data["data"]
        if not isinstance(data, dict):
            raise ValidationError(_('Enter a JSON object: {"key": value}.'))
        current = self.instance.data if self.instance.pk else {}
        changes = {k: v for k, v in data.items() if not (k in current and validation.same(current[k], v))}
        changes.update({k: None for k in current if k not in data})
        try:
            validation.values_clean(
                definitions=selectors.definitions(active_only=False), changes=changes, current=current
            )
        except validation.AttributeValuesInvalid as invalid:
            raise ValidationError(
                [f"{key}: {e.message % (e.params or {})}" for key, errs in invalid.field_errors.items() for e in errs]
            ) from invalid
        self.changes = changes
        return data


@admin.register(MemberAttributes)
class MemberAttributesAdmin(admin.ModelAdmin):
    """Members' values. Search ``key=value`` (``diet=vegetarian``, ``newsletter=true``) to look members
    up by an attribute: a JSON containment query on PostgreSQL's GIN index."""

    form = MemberAttributesForm
    list_display = ("user", "updated")
    search_fields = ("user__email",)
    readonly_fields = ("user", "skipped", "updated")
    fields = ("user", "data", "skipped", "updated")
    list_select_related = ("user",)
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        key, sep, raw = search_term.partition("=")
        key = key.strip()
        if sep and key.isidentifier():
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw.strip()
            users = selectors.members_with_attribute(key=key, value=value).values("pk")
            return queryset.filter(user__in=users), False
        return super().get_search_results(request, queryset, search_term)

    def has_add_permission(self, request) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        services.profile_attributes_update(
            user=obj.user, values=form.changes, source=services.SOURCE_STAFF, by=request.user
        )

    def delete_model(self, request, obj):
        services.profile_attributes_erase(user=obj.user)

    def delete_queryset(self, request, queryset):
        for row in queryset.select_related("user"):
            services.profile_attributes_erase(user=row.user)
