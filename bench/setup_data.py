"""Create the benchmark's clients and users in the database named by DATABASE_URL.

Run by bench/run.py as ``python bench/setup_data.py --users N`` with the production
environment (DATABASE_URL, REDIS_URL) already migrated. Prints one JSON object with the
credentials on stdout. Nothing here is part of the app: it uses the app's models only.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(os.environ.get("BENCH_APP_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idp.settings")

CC_CLIENT_ID = "bench-cc"
WEB_CLIENT_ID = "bench-web"
REDIRECT_URI = "http://127.0.0.1:9/cb"
USER_EMAIL = "bench-user-{:04d}@bench.example"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=64)
    args = parser.parse_args()

    import django

    django.setup()

    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from idp.models import Client

    User = get_user_model()
    cc_secret = secrets.token_urlsafe(96)  # 128 characters, like the secrets we hand out
    web_secret = secrets.token_urlsafe(96)
    password = secrets.token_urlsafe(18)

    with transaction.atomic():
        Client.objects.filter(client_id__in=[CC_CLIENT_ID, WEB_CLIENT_ID]).delete()
        # client_secret is hashed on save by DOT's ClientSecretField (CLIENT_SECRET_HASHER).
        Client.objects.create(
            client_id=CC_CLIENT_ID,
            client_secret=cc_secret,
            name="Bench resource server",
            client_type=Client.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS,
            algorithm=Client.RS256_ALGORITHM,
            allowed_scopes="introspection",
        )
        Client.objects.create(
            client_id=WEB_CLIENT_ID,
            client_secret=web_secret,
            name="Bench web site",
            client_type=Client.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE,
            redirect_uris=REDIRECT_URI,
            post_logout_redirect_uris="http://127.0.0.1:9/",
            algorithm=Client.RS256_ALGORITHM,
            first_party=True,
        )
        # One Argon2id hash shared by every bench user: creating them stays fast, and each
        # login still pays one full verification.
        encoded = make_password(password)
        User.objects.filter(email__endswith="@bench.example").delete()
        users = User.objects.bulk_create(
            [
                User(email=USER_EMAIL.format(i), password=encoded, given_name="Bench", family_name=f"User {i}")
                for i in range(args.users)
            ]
        )
        EmailAddress.objects.bulk_create(
            [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users]
        )

    json.dump(
        {
            "cc": {"client_id": CC_CLIENT_ID, "client_secret": cc_secret, "scope": "introspection"},
            "web": {
                "client_id": WEB_CLIENT_ID,
                "client_secret": web_secret,
                "redirect_uri": REDIRECT_URI,
                "scope": "openid profile email",
            },
            "users": [u.email for u in users],
            "password": password,
            "password_hash": " ".join(encoded.split("$")[1:4:2]),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
