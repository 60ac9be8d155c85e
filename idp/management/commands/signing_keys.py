"""Signing key rotation.

``rotate`` publishes a new active key and keeps the previous one in the JWKS, marked
to retire once every ID token it signed has expired. ``retire`` drops the keys past that
point (run it from cron or beat; ``rotate`` runs it too). Restart the web processes after
either so that they load the new key ring.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from oauth2_provider.settings import oauth2_settings

from idp import bootstrap


def _now() -> datetime:
    return datetime.now(UTC)


class Command(BaseCommand):
    help = "List, rotate or retire the OpenID Connect signing keys kept under var/keys."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "rotate", "retire"])

    def handle(self, *args, action: str, **options):
        ring = bootstrap.read_keyring()
        if action == "rotate":
            if not ring.get("active"):
                raise CommandError("No key ring yet: run `python -m idp.bootstrap` first.")
            lifetime = int(oauth2_settings.ID_TOKEN_EXPIRE_SECONDS)
            ring.setdefault("inactive", []).insert(
                0,
                {"file": ring["active"], "retire_after": (_now() + timedelta(seconds=lifetime)).isoformat()},
            )
            ring["active"] = bootstrap.new_key_file()
            self.stdout.write(f"new active key {ring['active']}")
        if action in ("rotate", "retire"):
            keep = []
            for entry in ring.get("inactive", []):
                if datetime.fromisoformat(entry["retire_after"]) <= _now():
                    (bootstrap.KEYS_DIR / entry["file"]).unlink(missing_ok=True)
                    self.stdout.write(f"retired {entry['file']}")
                else:
                    keep.append(entry)
            ring["inactive"] = keep
            bootstrap.write_keyring(ring)
        self.stdout.write(f"active: {ring.get('active')}")
        for entry in ring.get("inactive", []):
            self.stdout.write(f"published until {entry['retire_after']}: {entry['file']}")
