"""Import runs in the admin, read-only: counts, checkpoint and the first errors (line, code, field)."""

from __future__ import annotations

from django.contrib import admin

from imports.models import ImportRun


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ("id", "source", "file_name", "status", "rows", "imported", "unchanged", "changed", "failed",
                    "started_at", "finished_at")  # fmt: skip
    list_filter = ("status", "source")
    readonly_fields = [f.name for f in ImportRun._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
