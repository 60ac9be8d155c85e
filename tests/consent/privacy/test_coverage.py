"""Every model that holds personal data is covered by a privacy plan (or declared not personal).

The check walks ``django.apps.apps.get_models()``: our apps and the third-party ones (allauth,
django-oauth-toolkit, django-otp, the admin log, sessions). The tests below add models to the
real app registry for one test, the way a new app would, to show the check catches them.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import models

from consent.privacy import registry
from tests.consent.privacy.conftest import test_model


def test_every_installed_model_with_personal_data_is_covered_by_a_plan():
    problems = registry.coverage_problems()
    assert problems == [], "\n".join(problems)


def test_the_walk_sees_third_party_models_and_paths_to_the_user():
    personal = registry.personal_models()
    for label in (
        "accounts.User",
        "account.EmailAddress",
        "account.EmailConfirmation",  # through EmailAddress
        "socialaccount.SocialAccount",
        "socialaccount.SocialToken",  # through SocialAccount
        "oauth2_provider.AccessToken",
        "oauth2_provider.RefreshToken",
        "oauth2_provider.IDToken",
        "oauth2_provider.Grant",
        "otp_totp.TOTPDevice",
        "otp_email.EmailDevice",
        "admin.LogEntry",
        "sessions.Session",  # marked personal: no relation to the user model
        "consent.ErasureStep",  # through ErasureRequest
    ):
        assert label in personal, label
    for label in ("auth.Group", "auth.Permission", "contenttypes.ContentType", "socialaccount.SocialApp"):
        assert label not in personal, label


def test_a_new_model_with_a_user_link_and_no_plan_fails_the_check_by_name():
    with test_model(
        "StrayNote", {"user": models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)}
    ) as stray:
        problems = registry.coverage_problems()
        assert any(p.startswith("consent.StrayNote holds personal data (user → accounts.User)") for p in problems)

        # A model that reaches the user only through the stray one is caught too.
        with test_model("StrayAttachment", {"note": models.ForeignKey(stray, on_delete=models.CASCADE)}):
            problems = registry.coverage_problems()
            expected = "consent.StrayAttachment holds personal data (note → consent.StrayNote)"
            assert any(p.startswith(expected) for p in problems)

        # Covered by a plan: the check passes again.
        plan = registry.Plan(
            name="test_stray",
            title="Stray notes",
            models=("consent.StrayNote",),
            export=lambda user: {},
            steps=(registry.Step("notes", registry.delete("consent.StrayNote")),),
        )
        registry.plan_register(plan)
        try:
            assert registry.coverage_problems() == []
        finally:
            registry.plan_unregister("test_stray")
    assert registry.coverage_problems() == []


def test_a_model_marked_personal_without_a_relation_is_caught():
    with test_model("GuestBookEntry", {"written_by_email": models.EmailField()}):
        assert not [p for p in registry.coverage_problems() if "GuestBookEntry" in p]
        registry.personal("consent.GuestBookEntry", "a visitor's email address")
        try:
            assert any(p.startswith("consent.GuestBookEntry holds personal data") for p in registry.coverage_problems())
        finally:
            registry.declaration_remove("consent.GuestBookEntry")


def test_a_model_declared_not_personal_needs_a_reason_and_passes():
    with test_model(
        "PageView", {"user": models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)}
    ):
        with pytest.raises(registry.PlanError):
            registry.not_personal("consent.PageView", "  ")
        registry.not_personal("consent.PageView", "counts only; the link is cleared at once by its writer")
        try:
            assert registry.coverage_problems() == []
        finally:
            registry.declaration_remove("consent.PageView")


def test_a_plan_naming_a_model_that_does_not_exist_is_reported():
    plan = registry.Plan(
        name="test_typo",
        title="Typo",
        models=("accounts.Usre",),
        export=lambda user: {},
        steps=(registry.Step("x", lambda ctx: None, hold_category="no_such_category"),),
    )
    registry.plan_register(plan)
    try:
        problems = registry.coverage_problems()
    finally:
        registry.plan_unregister("test_typo")
    assert "plan 'test_typo' names accounts.Usre, which is not an installed model" in problems
    assert "test_typo.x names hold category 'no_such_category', never registered" in problems


def test_two_plans_cannot_share_a_name_and_steps_name_a_known_action():
    plan = registry.plans()[0]
    with pytest.raises(registry.PlanError):
        registry.plan_register(registry.Plan(name=plan.name, title="", models=(), export=dict, steps=()))
    with pytest.raises(registry.PlanError):
        registry.plan_register(
            registry.Plan(name="bad", title="", models=(), export=dict, steps=(registry.Step("s", dict, "shred"),))
        )
