"""Staff side of legal documents: drafts, publication (audited), and read-only acceptances.

A published version and its texts are read-only; a change is a new version (a new row).
Publishing needs the ``consent.publish_legaldocumentversion`` permission.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from consent.legal import services
from consent.models import LegalAcceptance, LegalDocument, LegalDocumentText, LegalDocumentVersion
from idp.admin import ReadOnlyAdmin


@admin.register(LegalDocument)
class LegalDocumentAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created")
    search_fields = ("name", "slug")

    def get_readonly_fields(self, request, obj=None):
        # The public address of a document members have accepted does not move.
        if obj is not None and obj.versions.filter(published_at__isnull=False).exists():
            return ("slug", "created")
        return ("created",)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.versions.exists():
            return False
        return super().has_delete_permission(request, obj)


class LegalDocumentTextInline(admin.StackedInline):
    model = LegalDocumentText
    extra = 1
    fields = ("language", "title", "summary", "body")

    def _draft(self, obj) -> bool:
        return obj is None or obj.published_at is None

    def has_add_permission(self, request, obj=None):
        return self._draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._draft(obj) and super().has_delete_permission(request, obj)


@admin.register(LegalDocumentVersion)
class LegalDocumentVersionAdmin(admin.ModelAdmin):
    list_display = ("document", "version", "material", "published_at", "published_by")
    list_filter = ("document", "material", ("published_at", admin.EmptyFieldListFilter))
    search_fields = ("document__name", "document__slug", "version")
    fields = ("document", "version", "material", "created", "created_by", "published_at", "published_by")
    readonly_fields = ("created", "created_by", "published_at", "published_by")
    inlines = [LegalDocumentTextInline]
    actions = ["publish"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.published_at is not None:
            return False  # published: immutable (viewable with the view permission)
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.published_at is not None:
            return False
        return super().has_delete_permission(request, obj)

    def has_publish_permission(self, request) -> bool:
        return request.user.has_perm("consent.publish_legaldocumentversion")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Publish the selected versions"), permissions=["publish"])
    def publish(self, request, queryset):
        published = 0
        for version in queryset.order_by("created", "id"):
            try:
                services.legal_version_publish(version=version, by=request.user)
            except services.LegalError as error:
                self.message_user(request, f"{version}: {error.title}", messages.ERROR)
            else:
                published += 1
        if published:
            self.message_user(
                request,
                ngettext("%(count)d version published.", "%(count)d versions published.", published)
                % {"count": published},
                messages.SUCCESS,
            )


@admin.register(LegalAcceptance)
class LegalAcceptanceAdmin(ReadOnlyAdmin):
    """Evidence: nobody edits or deletes it here."""

    list_display = ("accepted_at", "user", "version", "language", "channel", "client_label", "ip")
    list_filter = ("channel", "version__document", "language")
    search_fields = ("user__email", "client_label")
    list_select_related = ("user", "version__document")
    date_hierarchy = "accepted_at"

    def get_actions(self, request):
        return {}  # no bulk delete
