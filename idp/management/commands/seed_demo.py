"""Idempotent demo data: a staff user, one staff user per role, a member and two first-party
relying parties.

Passwords and client secrets are generated on the first run and kept in
``var/demo.json`` (ignored by git), so every later run prints the same ones.
"""

from __future__ import annotations

import json
import secrets

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from idp import bootstrap
from idp.dashboard import services as dashboard_services
from idp.models import Client
from staff.services import role_assign, roles_sync

DEMO_FILE = bootstrap.VAR_DIR / "demo.json"
DEMO_STAFF_ROLES = [
    ("support_agent", "support@example.com"),
    ("privacy_officer", "privacy@example.com"),
    ("loyalty_operations", "loyalty-ops@example.com"),
    ("client_administrator", "clients@example.com"),
]
DEMO_CLIENTS = [
    ("demo-miles", "SkyMiles (demo)", 9001, "#0b5cad"),
    ("demo-grocery", "FreshMart (demo)", 9002, "#2e7d32"),
]


def _load() -> dict:
    if DEMO_FILE.exists():
        return json.loads(DEMO_FILE.read_text())
    data = {
        "staff": {"email": "admin@example.com", "password": secrets.token_urlsafe(12)},
        "member": {"email": "member@example.com", "password": secrets.token_urlsafe(12)},
        "clients": {cid: {"client_secret": secrets.token_urlsafe(48)} for cid, *_ in DEMO_CLIENTS},
    }
    DEMO_FILE.write_text(json.dumps(data, indent=2))
    DEMO_FILE.chmod(0o600)
    return data


class Command(BaseCommand):
    help = "Create the demo staff user, member and relying-party clients (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        data = _load()
        User = get_user_model()
        for role, staff in (("staff", True), ("member", False)):
            email, password = data[role]["email"], data[role]["password"]
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email=email,
                    password=password,
                    is_staff=staff,
                    is_superuser=staff,
                    given_name="Demo",
                    family_name="Admin" if staff else "Member",
                )
            EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        roles_sync()
        if "roles" not in data:
            data["roles"] = {
                key: {"email": email, "password": secrets.token_urlsafe(12)} for key, email in DEMO_STAFF_ROLES
            }
            DEMO_FILE.write_text(json.dumps(data, indent=2))
        for key, login in data["roles"].items():
            user = User.objects.filter(email=login["email"]).first()
            if user is None:
                user = User.objects.create_user(
                    email=login["email"], password=login["password"], is_staff=True, given_name="Demo", family_name=key
                )
            EmailAddress.objects.update_or_create(
                user=user, email=login["email"], defaults={"verified": True, "primary": True}
            )
            role_assign(user=user, role_key=key)
        for client_id, name, port, colour in DEMO_CLIENTS:
            base = f"http://127.0.0.1:{port}"
            client = Client.objects.filter(client_id=client_id).first()
            fields = {
                "name": name,
                "client_type": Client.CLIENT_CONFIDENTIAL,
                "authorization_grant_type": Client.GRANT_AUTHORIZATION_CODE,
                "redirect_uris": f"{base}/callback",
                "post_logout_redirect_uris": f"{base}/",
                "algorithm": Client.RS256_ALGORITHM,
                "first_party": True,
                "brand_color": colour,
            }
            if client is None:
                Client.objects.create(
                    client_id=client_id, client_secret=data["clients"][client_id]["client_secret"], **fields
                )
            else:
                for key, value in fields.items():
                    setattr(client, key, value)
                client.save(update_fields=list(fields))
        # The staff dashboard's figures for the last 30 days (no beat runs in the embedded set-up).
        dashboard_services.metrics_rollup(days=30)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        staff, member = data["staff"], data["member"]
        self.stdout.write(f"  Staff admin:  http://127.0.0.1:8000/admin/  {staff['email']} / {staff['password']}")
        self.stdout.write(
            f"  Member login: http://127.0.0.1:8000/accounts/login/  {member['email']} / {member['password']}"
        )
        self.stdout.write("  My account:   http://127.0.0.1:8000/account/  (SMS codes are printed here)")
        for key, login in data["roles"].items():
            self.stdout.write(f"  Staff role {key}: {login['email']} / {login['password']}")
        self.stdout.write("  Demo sites:   make example  (then open http://127.0.0.1:9001 and http://127.0.0.1:9002)")
