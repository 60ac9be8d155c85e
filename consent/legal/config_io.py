"""The ``legal_documents`` configuration section: documents, their versions and texts.

A published version is immutable: the import refuses a file that changes one (or unpublishes
it) and never deletes one. New versions are created as drafts and, when the file says
``"published": true``, published through :func:`consent.legal.services.legal_version_publish`,
so the material-change rule, the audit event and the re-consent cache behave as in the admin.
Versions are published in the order of the file; the last published one becomes current.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.legal import services
from consent.models import LegalDocument, LegalDocumentText, LegalDocumentVersion
from idp.config_io.base import (
    CREATE,
    DELETE,
    UNCHANGED,
    UPDATE,
    Context,
    F,
    Section,
    assign,
    check_list,
    check_object,
    unique_keys,
)

DOCUMENT_SPEC = {"slug": F("str"), "name": F("str"), "versions": F("list", default=[])}
VERSION_SPEC = {
    "version": F("str"),
    "material": F("bool", default=False),
    "published": F("bool", default=False),
    "texts": F("dict"),
}
TEXT_SPEC = {"title": F("str"), "summary": F("str", default=""), "body": F("str")}
_TEXT_FIELDS = ("title", "summary", "body")


def _texts(version: LegalDocumentVersion) -> dict:
    return {t.language: {k: getattr(t, k) for k in _TEXT_FIELDS} for t in version.texts.all()}


def document_export(document: LegalDocument) -> dict:
    versions = list(document.versions.all())
    published = sorted((v for v in versions if v.published_at), key=lambda v: (v.published_at, v.pk))
    drafts = sorted((v for v in versions if not v.published_at), key=lambda v: v.version)
    return {
        "slug": document.slug,
        "name": document.name,
        "versions": [
            {"version": v.version, "material": v.material, "published": v.is_published, "texts": _texts(v)}
            for v in [*published, *drafts]
        ],
    }


class LegalDocumentsSection(Section):
    name = "legal_documents"
    order = 30

    def export(self) -> list[dict]:
        queryset = LegalDocument.objects.order_by("slug").prefetch_related("versions__texts")
        return [document_export(d) for d in queryset]

    def validate(self, value, ctx: Context, path: str) -> None:
        items = check_list(value, path, ctx)
        unique_keys(items, path, "slug", ctx)
        languages = {code for code, _name in settings.LANGUAGES}
        for i, item in enumerate(items):
            where = f"{path}[{i}]"
            cleaned = check_object(item, where, DOCUMENT_SPEC, ctx)
            if cleaned is None:
                continue
            unique_keys(cleaned["versions"], f"{where}.versions", "version", ctx)
            versions = []
            for j, raw in enumerate(cleaned["versions"]):
                vpath = f"{where}.versions[{j}]"
                version = check_object(raw, vpath, VERSION_SPEC, ctx)
                if version is None:
                    continue
                versions.append((j, version))
                for language, text in sorted(version["texts"].items()):
                    if language not in languages:
                        ctx.error(
                            f"{vpath}.texts.{language}",
                            _("Unknown language; use one of: %(languages)s.")
                            % {"languages": ", ".join(sorted(languages))},
                        )
                    check_object(text, f"{vpath}.texts.{language}", TEXT_SPEC, ctx)
                if version["published"] and settings.LANGUAGE_CODE not in version["texts"]:
                    ctx.error(
                        f"{vpath}.texts",
                        _("A published version needs its text in the default language (%(language)s).")
                        % {"language": settings.LANGUAGE_CODE},
                    )
            self._validate_history(cleaned["slug"], versions, ctx, f"{where}.versions")

    def _validate_history(self, slug: str, versions: list, ctx: Context, path: str) -> None:
        """Published versions stay as they are and in their order; new ones come after them."""
        document = LegalDocument.objects.filter(slug=slug).first()
        stored = {}
        if document is not None:
            stored = {v.version: v for v in document.versions.prefetch_related("texts")}
        stored_order = [
            v.version
            for v in sorted((v for v in stored.values() if v.published_at), key=lambda v: (v.published_at, v.pk))
        ]
        seen_new = order_reported = False
        first_published = not stored_order
        last_stored_index = -1
        for j, version in versions:
            vpath = f"{path}[{j}]"
            current = stored.get(version["version"])
            if current is not None and current.published_at is not None:
                if not version["published"]:
                    ctx.error(f"{vpath}.published", _("This version is published here and cannot be unpublished."))
                    continue
                if seen_new and not order_reported:
                    order_reported = True
                    ctx.error(
                        vpath,
                        _("List the versions published here before the versions to publish now."),
                    )
                index = stored_order.index(current.version)
                if index < last_stored_index:
                    ctx.error(vpath, _("The published versions are in a different order here."))
                last_stored_index = max(last_stored_index, index)
                if current.material != version["material"]:
                    ctx.error(
                        f"{vpath}.material",
                        _("This version is published here and cannot change: add a new version instead."),
                    )
                stored_texts = _texts(current)
                if not all(isinstance(t, dict) for t in version["texts"].values()):
                    continue  # reported above
                for language in sorted(set(stored_texts) | set(version["texts"])):
                    new = {**{k: TEXT_SPEC[k].default for k in ("summary",)}, **version["texts"].get(language, {})}
                    old = stored_texts.get(language)
                    if (
                        old is None
                        or language not in version["texts"]
                        or any(old[k] != new.get(k) for k in _TEXT_FIELDS)
                    ):
                        ctx.error(
                            f"{vpath}.texts.{language}",
                            _("This version is published here and cannot change: add a new version instead."),
                        )
            elif version["published"]:
                seen_new = True
                if first_published and not version["material"]:
                    ctx.error(
                        f"{vpath}.material",
                        _("The first published version of a document is always a material change: set it to true."),
                    )
                first_published = False

    def apply(self, value, ctx: Context, path: str) -> None:
        now = timezone.now()
        for i, item in enumerate(value):
            where = f"{path}[{i}]"
            cleaned = check_object(item, where, DOCUMENT_SPEC, ctx)
            document = LegalDocument.objects.filter(slug=cleaned["slug"]).first()
            created = document is None
            if created:
                document = LegalDocument(slug=cleaned["slug"])
            diff = assign(document, {"name": cleaned["name"]})
            try:
                document.full_clean(validate_unique=False)
            except ValidationError as exc:
                ctx.validation_error(where, exc)
                continue
            if created or diff:
                document.save()
            stored = {} if created else {v.version: v for v in document.versions.all()}
            # New versions are published after every stored one, in the file's order.
            publish_at = max([now, *(v.published_at for v in stored.values() if v.published_at)])
            for j, raw in enumerate(cleaned["versions"]):
                version_data = check_object(raw, f"{where}.versions[{j}]", VERSION_SPEC, ctx)
                version = stored.pop(version_data["version"], None)
                if version is not None and version.published_at is not None:
                    continue  # unchanged: validation compared it
                changed = self._draft(document, version, version_data, ctx, f"{where}.versions[{j}]")
                if changed is None:
                    continue
                diff.update(changed)
                if version_data["published"]:
                    draft = LegalDocumentVersion.objects.get(document=document, version=version_data["version"])
                    publish_at += timedelta(microseconds=1)
                    services.legal_version_publish(version=draft, by=ctx.actor, now=publish_at)
                    diff[f"versions.{draft.version}.published"] = (False, True)
            if ctx.prune:
                for label, version in sorted(stored.items()):
                    if version.published_at is None:
                        version.delete()
                        diff[f"versions.{label}"] = ("deleted", None)
            ctx.record(self.name, document.slug, CREATE if created else (UPDATE if diff else UNCHANGED), diff)

    def _draft(self, document, version, data: dict, ctx: Context, path: str) -> dict | None:
        """Create or update a draft and its texts; the differences, or ``None`` on errors."""
        label = data["version"]
        diff = {}
        if version is None:
            version = LegalDocumentVersion(document=document, version=label, created_by=ctx.actor)
            diff[f"versions.{label}"] = (None, "created")
        changed = assign(version, {"material": data["material"]})
        try:
            version.full_clean(exclude=["document", "created_by", "published_by"], validate_unique=False)
        except ValidationError as exc:
            ctx.validation_error(path, exc)
            return None
        version.save()
        if f"versions.{label}" not in diff:
            diff.update({f"versions.{label}.{k}": v for k, v in changed.items()})
        current = {t.language: t for t in version.texts.all()}
        for language, text_data in sorted(data["texts"].items()):
            text = current.pop(language, None) or LegalDocumentText(version=version, language=language)
            new = text.pk is None
            values = {k: text_data.get(k, "") for k in _TEXT_FIELDS}
            text_changed = assign(text, values)
            try:
                text.full_clean(exclude=["version"], validate_unique=False)
            except ValidationError as exc:
                ctx.validation_error(f"{path}.texts.{language}", exc)
                return None
            if new:
                text.save()
                diff[f"versions.{label}.texts.{language}"] = (None, "created")
            elif text_changed:
                text.save(update_fields=list(text_changed))
                diff.update({f"versions.{label}.texts.{language}.{k}": v for k, v in text_changed.items()})
        if ctx.prune:
            for language, text in sorted(current.items()):
                text.delete()
                diff[f"versions.{label}.texts.{language}"] = ("deleted", None)
        return diff

    def prune(self, value, ctx: Context, path: str) -> None:
        keep = {item["slug"] for item in value}
        for document in LegalDocument.objects.exclude(slug__in=keep).order_by("slug"):
            if document.versions.filter(published_at__isnull=False).exists():
                ctx.notes.append(
                    _("Kept legal document “%(slug)s”: not in the file, but published versions are never deleted.")
                    % {"slug": document.slug}
                )
                continue
            document.versions.all().delete()
            document.delete()
            ctx.record(self.name, document.slug, DELETE)
