"""The one-query check every sign-in makes agrees with the full list of a member's factors."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa import selectors
from accounts.models import WebAuthnCredential

pytestmark = pytest.mark.django_db


def _agree(user) -> bool:
    quick = selectors.has_strong_factor(user)
    assert quick == selectors.factors_for(user).has_strong_factor
    return quick


def test_strong_factor_check_matches_the_factors(member, django_user_model):
    other = django_user_model.objects.create_user(email="other@example.com", password="x" * 12)
    TOTPDevice.objects.create(user=other, name="other's app", confirmed=True)
    assert _agree(member) is False  # another member's factor does not count

    totp = TOTPDevice.objects.create(user=member, name="app", confirmed=False)
    assert _agree(member) is False  # not confirmed yet
    totp.confirmed = True
    totp.save(update_fields=["confirmed"])
    assert _agree(member) is True
    totp.delete()

    passkey = WebAuthnCredential.objects.create(
        user=member, name="phone", credential_id=b"cred-1", public_key=b"key", flagged_at=timezone.now()
    )
    assert _agree(member) is False  # a passkey flagged as possibly cloned is not a factor
    passkey.flagged_at = None
    passkey.save(update_fields=["flagged_at"])
    assert _agree(member) is True
