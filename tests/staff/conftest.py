"""Staff signed in to the admin with a second factor, one per role."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from staff import services
from tests.accounts.mfa.conftest import force_login_with_mfa
from tests.conftest import PASSWORD

# The member's own values (``member`` fixture + ``rich_member_data``) that masked pages must never show.
MEMBER_SECRETS = ["member@example.com", "Hanako", "Yamada", "hanako.second@example.com", "5678", "Unique-cho"]


@pytest.fixture
def roles(db):
    services.roles_sync()


@pytest.fixture
def staff_as(roles):
    """``staff_as("support_agent")`` → (a logged-in test client, the staff user)."""

    def make(role_key: str) -> tuple[Client, object]:
        user = get_user_model().objects.create_user(
            email=f"{role_key.replace('_', '-')}@staff.example", password=PASSWORD, is_staff=True
        )
        services.role_assign(user=user, role_key=role_key)
        browser = Client(HTTP_USER_AGENT="StaffBrowser/1.0")
        force_login_with_mfa(browser, user)
        return browser, user

    return make


def leaked(html: str, secrets=MEMBER_SECRETS) -> list[str]:
    return [s for s in secrets if s in html]
