"""What every ModelAdmin of the staff admin does, whatever app it comes from.

:class:`accounts.mfa.admin.MFAAdminSite` builds each registered admin class as
``staff_admin_class(cls)``: a subclass with :class:`StaffAdminMixin` in front. So every admin,
ours and third-party, masks members' personal data for staff without the unmask permission and
writes the staff audit log for every change, deletion, admin action, custom admin page and view
of a member's record, once.
"""

from __future__ import annotations

import functools

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ObjectDoesNotExist
from django.http import FileResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from staff import masking

MASKED_PREFIX = "staff_masked__"
STANDARD_URLS = ("changelist", "add", "history", "delete", "change", "autocomplete")


class _MaskedOriginal:
    """The object being edited, whose ``str()`` is masked (breadcrumbs and page title)."""

    def __init__(self, obj, text: str):
        self._obj = obj
        self._text = text

    def __str__(self) -> str:
        return self._text

    def __getattr__(self, name):
        return getattr(self._obj, name)


class MaskingMixin:
    """Swap personal fields for masked read-only values when the request may not see them."""

    def _pii(self) -> dict[str, str]:
        cached = self.__dict__.get("_staff_pii")
        if cached is None:
            cached = self.__dict__["_staff_pii"] = masking.pii_fields(self.model)
        return cached

    def __getattr__(self, name: str):
        if name.startswith(MASKED_PREFIX):
            field_name = name[len(MASKED_PREFIX) :]
            kind = self._pii().get(field_name)
            if kind is not None:
                return _masked_display(self.model, field_name, kind)
        raise AttributeError(name)

    def _mask_names(self, names, pii):
        out = []
        for name in names:
            if isinstance(name, (list, tuple)):
                out.append(type(name)(self._mask_names(name, pii)))
            elif isinstance(name, str) and name in pii:
                out.append(MASKED_PREFIX + name)
            else:
                out.append(name)
        return out

    def staff_masked_for(self, request, obj=None) -> bool:
        pii = self._pii()
        if not pii or masking.can_unmask_all(request.user):
            return False
        return obj is None or not masking.is_unmasked(request, masking.member_id_of(obj))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self.staff_masked_for(request, obj):
            return fieldsets
        pii = self._pii()
        declared_readonly = set(super().get_readonly_fields(request, obj))
        present = {n for _title, opts in fieldsets for n in _flatten(opts["fields"])}
        shown = {f for f in pii if f in present or f in declared_readonly}
        seen: set = set()

        def keep(name) -> bool:
            if isinstance(name, str) and name.startswith(MASKED_PREFIX):
                if name[len(MASKED_PREFIX) :] not in shown or name in seen:
                    return False
                seen.add(name)
            return True

        out = []
        for title, opts in fieldsets:
            names = []
            for name in self._mask_names(opts["fields"], pii):
                if isinstance(name, (list, tuple)):
                    line = [n for n in name if keep(n)]
                    if line:
                        names.append(tuple(line))
                elif keep(name):
                    names.append(name)
            out.append((title, {**opts, "fields": names}))
        return out

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if not self.staff_masked_for(request, obj):
            return readonly
        pii = self._pii()
        masked = [n for n in self._mask_names(readonly, pii)]
        masked += [MASKED_PREFIX + n for n in pii if MASKED_PREFIX + n not in masked]
        return tuple(masked)


def _flatten(names):
    for name in names:
        if isinstance(name, (list, tuple)):
            yield from name
        else:
            yield name


@functools.cache
def _masked_display(model, field_name: str, kind: str):
    field = model._meta.get_field(field_name)

    def display(obj):
        try:
            value = getattr(obj, field_name)
        except ObjectDoesNotExist:
            return ""
        return masking.mask(kind, value)

    display.short_description = field.verbose_name  # not sortable: the order would reveal the values
    display.__name__ = MASKED_PREFIX + field_name
    return display


MEMBER_ID_LOOKUPS = {(), ("id",), ("pk",), ("exact",), ("id", "exact"), ("in",), ("id", "in"), ("isnull",)}


class StaffAdminMixin(MaskingMixin):
    # An admin lists its custom pages that write their own audit entries in ``staff_self_audited``
    # (not declared here: the mixin comes first in the MRO and would hide the admin's own value).

    def get_list_display(self, request):
        names = super().get_list_display(request)
        if not self.staff_masked_for(request):
            return names
        return self._mask_names(names, self._pii())

    def get_list_display_links(self, request, list_display):
        links = super().get_list_display_links(request, list_display)
        if links and self.staff_masked_for(request):
            return self._mask_names(links, self._pii())
        return links

    def get_changelist_instance(self, request):
        """Rows print their ``str()`` (the action checkbox's label, ``__str__`` columns): masked."""
        changelist = super().get_changelist_instance(request)
        if self.staff_masked_for(request) and not changelist.list_editable:
            name = self.model._meta.verbose_name
            changelist.result_list = [_MaskedOriginal(row, f"{name} #{row.pk}") for row in changelist.result_list]
        return changelist

    def lookup_allowed(self, lookup, value, request=None):
        """Without the unmask permission, no URL filter on a personal field (``?email__startswith=``
        would be a prefix oracle); a link to a member may still be followed by its id."""
        if request is not None and self.staff_masked_for(request):
            parts = lookup.split("__")
            pii = self._pii()
            for i, part in enumerate(parts):
                if (i == 0 and part in pii) or masking.PII_KINDS.get(part):
                    member_link = i == 0 and pii.get(part) == "member"
                    if not (member_link and tuple(parts[1:]) in MEMBER_ID_LOOKUPS):
                        return False
        return super().lookup_allowed(lookup, value, request)

    def get_search_fields(self, request):
        """Without the unmask permission, personal fields match only exactly (no prefix oracle)."""
        fields = super().get_search_fields(request)
        if not self.staff_masked_for(request):
            return fields
        out = []
        for name in fields:
            bare = name.lstrip("^=@")
            last = bare.split("__")[-1]
            personal = last in masking.PII_KINDS and masking.PII_KINDS[last] is not None
            out.append("=" + bare if personal else name)
        return out

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        for inline in inlines:
            inline.__class__ = staff_inline_class(type(inline))
        return inlines

    def get_inline_formsets(self, request, formsets, inline_instances, obj=None):
        """Inline rows print their object's ``str()`` (often the member's email): masked too."""
        inline_formsets = super().get_inline_formsets(request, formsets, inline_instances, obj)
        if obj is not None and self.staff_masked_for(request, obj):
            for inline_formset in inline_formsets:
                inline_formset.__class__ = _masked_inline_formset_class(type(inline_formset))
        return inline_formsets

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self.staff_masked_for(request, obj):
            text = _("%(model)s #%(pk)s") % {"model": self.model._meta.verbose_name, "pk": obj.pk}
            context["subtitle"] = text
            context["original"] = _MaskedOriginal(obj, text)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and self.staff_masked_for(request, obj):
            text = f"{self.model._meta.verbose_name} #{obj.pk}"
            extra_context = {
                **(extra_context or {}),
                "title": _("Change history: %s") % text,
                "subtitle": None,
                "object": _MaskedOriginal(obj, text),
            }
        return super().history_view(request, object_id, extra_context)

    # --- audit -------------------------------------------------------------------------------

    def _audit(self, request, **kwargs):
        from staff import services

        services.audit_write(request=request, **kwargs)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and self._pii() and getattr(response, "status_code", 0) == 200:
            obj = (getattr(response, "context_data", None) or {}).get("original")
            obj = getattr(obj, "_obj", obj)
            if obj is not None:
                self._audit(
                    request,
                    action="view_pii",
                    target=obj,
                    details={"masked": self.staff_masked_for(request, obj)},
                )
        return response

    def changelist_view(self, request, extra_context=None):
        """A list of members' rows is a view of their personal data too (the search term is not
        kept: it is often an email address)."""
        response = super().changelist_view(request, extra_context)
        if request.method == "GET" and self._pii() and getattr(response, "status_code", 0) == 200:
            changelist = (getattr(response, "context_data", None) or {}).get("cl")
            if changelist is not None and changelist.result_list:
                self._audit(
                    request,
                    action="view_pii",
                    name="changelist",
                    target=self.model,
                    details={
                        "masked": self.staff_masked_for(request),
                        "rows": len(changelist.result_list),
                        "searched": bool(changelist.query),
                    },
                )
        return response

    def construct_change_message(self, request, form, formsets, add=False):
        names = list(getattr(form, "changed_data", []) or [])
        for formset in formsets or ():
            for inline_form in getattr(formset, "forms", []):
                if inline_form.has_changed():
                    names.extend(f"{formset.prefix}.{n}" for n in inline_form.changed_data)
        request._staff_changed_fields = names
        return super().construct_change_message(request, form, formsets, add)

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        self._audit(request, action="add", target=obj, fields=getattr(request, "_staff_changed_fields", ()))
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        self._audit(request, action="change", target=obj, fields=getattr(request, "_staff_changed_fields", ()))
        return entry

    def log_deletions(self, request, queryset):
        objs = list(queryset)
        entries = super().log_deletions(request, objs)
        for obj in objs:
            self._audit(request, action="delete", target=obj)
        return entries

    def response_action(self, request, queryset):
        action = request.POST.get("action", "")
        if action == "delete_selected":  # the deletions are audited by log_deletions
            return super().response_action(request, queryset)
        selected = request.POST.getlist(ACTION_CHECKBOX_NAME)
        select_across = request.POST.get("select_across") == "1"
        targets = []
        if select_across:
            targets = list(queryset)
        elif selected:
            targets = list(queryset.filter(pk__in=selected))
        response = super().response_action(request, queryset)
        ran = response is not None and response.status_code < 400 and not isinstance(response, TemplateResponse)
        if ran:
            kind = "export" if _is_download(response) else "action"
            for obj in targets:
                self._audit(request, action=kind, name=action, target=obj)
        return response

    def get_urls(self):
        """Custom admin pages of this admin (e.g. loyalty's "adjust") are audited on a successful POST."""
        urls = super().get_urls()
        info = self.opts.app_label, self.opts.model_name
        standard = {"{}_{}_{}".format(*info, suffix) for suffix in STANDARD_URLS}
        for pattern in urls:
            name = getattr(pattern, "name", None)
            if (
                name
                and name not in standard
                and name not in getattr(self, "staff_self_audited", ())
                and hasattr(pattern, "callback")
            ):
                pattern.callback = _audited_view(self, pattern.callback, name)
        return urls


def _is_download(response) -> bool:
    return isinstance(response, StreamingHttpResponse | FileResponse) or response.get(
        "Content-Disposition", ""
    ).startswith("attachment")


def _audited_view(model_admin, view, url_name: str):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        download = _is_download(response)
        if request.method == "POST" and (response.status_code in (301, 302, 303) or download):
            pk = kwargs.get("pk") or kwargs.get("object_id") or (args[0] if args else None)
            target = model_admin.model._default_manager.filter(pk=pk).first() if pk is not None else None
            model_admin._audit(
                request,
                action="export" if download else "action",
                name=url_name,
                target=target if target is not None else model_admin.model,
                reason=request.POST.get("reason", "")[:1000],
            )
        return response

    return wrapper


@functools.cache
def _masked_inline_formset_class(cls):
    class MaskedInlineAdminFormSet(cls):
        def __iter__(self):
            for inline_form in super().__iter__():
                original = inline_form.original
                if original is not None and not isinstance(original, _MaskedOriginal):
                    text = f"{original._meta.verbose_name} #{original.pk}"
                    inline_form.original = _MaskedOriginal(original, text)
                yield inline_form

    return MaskedInlineAdminFormSet


@functools.cache
def staff_admin_class(cls):
    if issubclass(cls, StaffAdminMixin):
        return cls
    return type(cls.__name__, (StaffAdminMixin, cls), {"__module__": cls.__module__, "__qualname__": cls.__qualname__})


@functools.cache
def staff_inline_class(cls):
    if issubclass(cls, MaskingMixin):
        return cls
    return type(cls.__name__, (MaskingMixin, cls), {"__module__": cls.__module__, "__qualname__": cls.__qualname__})


__all__ = ["StaffAdminMixin", "staff_admin_class", "admin"]
