"""The provider's sections: clients (relying parties) and, for review, the effective scopes.

Client secrets are never exported. A confidential client the import creates gets a fresh secret,
returned in the import result and shown once (the command prints it, the admin page shows it);
an existing client keeps its secret whatever the file says.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db.models import ProtectedError, RestrictedError
from django.utils import translation
from django.utils.translation import gettext as _
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.settings import oauth2_settings

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
from idp.models import Client

LOGO_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")
LOGO_MAX_BYTES = 512 * 1024
_LIST_FIELDS = ("redirect_uris", "post_logout_redirect_uris", "allowed_origins", "allowed_scopes")

CLIENT_SPEC = {
    "client_id": F("str", pattern=r"[^\s\x00]{1,255}"),
    "name": F("str", default=""),
    "client_type": F("str", choices=(Client.CLIENT_CONFIDENTIAL, Client.CLIENT_PUBLIC)),
    "authorization_grant_type": F("str", choices=tuple(v for v, _label in Client.GRANT_TYPES)),
    "algorithm": F("str", default=Client.RS256_ALGORITHM, choices=tuple(v for v, _label in Client.ALGORITHM_TYPES)),
    "redirect_uris": F("str_list", default=[]),
    "post_logout_redirect_uris": F("str_list", default=[]),
    "allowed_origins": F("str_list", default=[]),
    "backchannel_logout_uri": F("str", default=""),
    "allowed_scopes": F("str_list", default=[]),
    "first_party": F("bool", default=False),
    "require_pkce": F("bool", default=True),
    "require_mfa": F("bool", default=False),
    "skip_authorization": F("bool", default=False),
    "hash_client_secret": F("bool", default=True),
    "brand_color": F("str", default="#1f4b99"),
    "logo": F("str", default=None, null=True),
}


def registered_scopes() -> dict[str, str]:
    """Every scope this installation knows (settings plus what apps registered), in English."""
    with translation.override(settings.LANGUAGE_CODE):
        return {name: str(description) for name, description in oauth2_settings.SCOPES.items()}


def _logo_data(client: Client) -> tuple[bytes | None, str]:
    if not client.logo:
        return None, ""
    try:
        with client.logo.open("rb") as handle:
            content = handle.read()
    except OSError:
        return None, ""
    return content, mimetypes.guess_type(client.logo.name)[0] or "application/octet-stream"


def _data_uri(content: bytes, content_type: str) -> str:
    return f"data:{content_type};base64,{base64.b64encode(content).decode()}"


def _parse_data_uri(value: str) -> tuple[bytes, str] | None:
    head, sep, payload = value.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        return None
    content_type = head[5:-7]
    if content_type not in LOGO_TYPES:
        return None
    try:
        return base64.b64decode(payload, validate=True), content_type
    except (binascii.Error, ValueError):
        return None


def _digest(content: bytes | None) -> str | None:
    return f"sha256:{hashlib.sha256(content).hexdigest()[:16]}" if content else None


def client_export(client: Client) -> dict:
    content, content_type = _logo_data(client)
    return {
        "client_id": client.client_id,
        "name": client.name,
        "client_type": client.client_type,
        "authorization_grant_type": client.authorization_grant_type,
        "algorithm": client.algorithm,
        "redirect_uris": client.redirect_uris.split(),
        "post_logout_redirect_uris": client.post_logout_redirect_uris.split(),
        "allowed_origins": client.allowed_origins.split(),
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "allowed_scopes": sorted(set(client.allowed_scopes.split())),
        "first_party": client.first_party,
        "require_pkce": client.require_pkce,
        "require_mfa": client.require_mfa,
        "skip_authorization": client.skip_authorization,
        "hash_client_secret": client.hash_client_secret,
        "brand_color": client.brand_color,
        "logo": _data_uri(content, content_type) if content else None,
    }


class ClientsSection(Section):
    name = "clients"
    order = 10

    def export(self) -> list[dict]:
        return [client_export(c) for c in Client.objects.order_by("client_id")]

    def validate(self, value, ctx: Context, path: str) -> None:
        items = check_list(value, path, ctx)
        unique_keys(items, path, "client_id", ctx)
        scopes = registered_scopes()
        for i, item in enumerate(items):
            where = f"{path}[{i}]"
            cleaned = check_object(item, where, CLIENT_SPEC, ctx)
            if cleaned is None:
                continue
            for j, scope in enumerate(cleaned["allowed_scopes"]):
                if scope not in scopes:
                    ctx.error(f"{where}.allowed_scopes[{j}]", _("Unknown scope “%(scope)s”.") % {"scope": scope})
            for name in ("redirect_uris", "post_logout_redirect_uris", "allowed_origins", "allowed_scopes"):
                for j, entry in enumerate(cleaned[name]):
                    if not entry or any(c.isspace() for c in entry):
                        ctx.error(f"{where}.{name}[{j}]", _("Enter one value without spaces."))
            logo = cleaned["logo"]
            if logo is not None:
                parsed = _parse_data_uri(logo)
                if parsed is None:
                    ctx.error(
                        f"{where}.logo",
                        _("Expected a base64 data URI of an image (%(types)s).") % {"types": ", ".join(LOGO_TYPES)},
                    )
                elif len(parsed[0]) > LOGO_MAX_BYTES:
                    ctx.error(f"{where}.logo", _("The logo is larger than 512 KB."))

    def apply(self, value, ctx: Context, path: str) -> None:
        existing = {c.client_id: c for c in Client.objects.filter(client_id__in=[i["client_id"] for i in value])}
        for i, item in enumerate(value):
            where = f"{path}[{i}]"
            cleaned = check_object(item, where, CLIENT_SPEC, ctx)
            client = existing.get(cleaned["client_id"])
            created = client is None
            if created:
                client = Client(client_id=cleaned["client_id"])
            fields = {k: v for k, v in cleaned.items() if k not in ("client_id", "logo")}
            for name in _LIST_FIELDS:
                fields[name] = " ".join(fields[name])

            def normalize(name, v):
                if name == "allowed_scopes":
                    return sorted(set(v.split()))
                if name in _LIST_FIELDS:
                    return v.split()
                return v

            diff = assign(client, fields, normalize)
            new_logo = _parse_data_uri(cleaned["logo"]) if cleaned["logo"] else None
            old_content = _logo_data(client)[0] if not created else None
            new_content = new_logo[0] if new_logo else None
            logo_changed = old_content != new_content
            if logo_changed:
                diff["logo"] = (_digest(old_content), _digest(new_content))
            try:
                client.full_clean(exclude=["client_secret", "user", "logo"])
            except ValidationError as exc:
                ctx.validation_error(where, exc)
                continue
            if not created and "hash_client_secret" in diff:
                ctx.error(
                    f"{where}.hash_client_secret",
                    _("How a client's secret is stored cannot change by import: set a new secret in the admin."),
                )
                continue
            note = ""
            if created and client.client_type == Client.CLIENT_CONFIDENTIAL:
                secret = generate_client_secret()
                client.client_secret = secret
                ctx.secrets[client.client_id] = secret
                note = _("new client secret generated")
            elif not created and "client_type" in diff and client.client_type == Client.CLIENT_CONFIDENTIAL:
                note = _("now confidential: set a new secret in the admin")
            if logo_changed:
                if new_logo is None:
                    client.logo = ""
                elif ctx.dry_run:
                    client.logo.name = f"client-logos/{client.client_id}"  # nothing is stored in a dry run
                else:
                    content, content_type = new_logo
                    extension = mimetypes.guess_extension(content_type) or ""
                    name = f"{client.client_id}-{hashlib.sha256(content).hexdigest()[:12]}{extension}"
                    client.logo.save(name, ContentFile(content), save=False)
            if created:
                client.save()
                ctx.record(self.name, client.client_id, CREATE, diff, note)
            elif diff:
                client.save()
                ctx.record(self.name, client.client_id, UPDATE, diff, note)
            else:
                ctx.record(self.name, client.client_id, UNCHANGED)

    def prune(self, value, ctx: Context, path: str) -> None:
        keep = {item["client_id"] for item in value}
        for client in Client.objects.exclude(client_id__in=keep).order_by("client_id"):
            try:
                client.delete()
            except (ProtectedError, RestrictedError):
                ctx.notes.append(
                    _("Kept client “%(client)s”: it is not in the file, but records refer to it (loyalty postings).")
                    % {"client": client.client_id}
                )
                continue
            ctx.record(self.name, client.client_id, DELETE)


SCOPE_SPEC = {"name": F("str"), "description": F("str", default="")}


class ScopesSection(Section):
    """The effective scopes, for review. They come from code and settings, not from the database:
    an import compares them with this installation's and reports the differences as notes."""

    name = "scopes"
    order = 0
    read_only = True

    def export(self) -> list[dict]:
        return [{"name": n, "description": d} for n, d in sorted(registered_scopes().items())]

    def validate(self, value, ctx: Context, path: str) -> None:
        items = check_list(value, path, ctx)
        unique_keys(items, path, "name", ctx)
        for i, item in enumerate(items):
            check_object(item, f"{path}[{i}]", SCOPE_SPEC, ctx)

    def apply(self, value, ctx: Context, path: str) -> None:
        here = registered_scopes()
        there = {item["name"]: item.get("description", "") for item in value}
        for name in sorted(set(there) - set(here)):
            ctx.notes.append(
                _("Scope “%(scope)s” exists at the source but not here (scopes come from code and settings).")
                % {"scope": name}
            )
        for name in sorted(set(here) - set(there)):
            ctx.notes.append(_("Scope “%(scope)s” exists here but not at the source.") % {"scope": name})
        for name in sorted(set(here) & set(there)):
            if here[name] != there[name]:
                ctx.notes.append(_("Scope “%(scope)s” is described differently here.") % {"scope": name})
