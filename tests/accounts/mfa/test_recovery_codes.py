"""Recovery codes: shown once, stored as keyed hashes, each single-use, replaced as a set."""

from __future__ import annotations

import pytest

from accounts.mfa.services import recovery_code_hash
from accounts.models import RecoveryCode, SecurityEvent
from tests.accounts.mfa.conftest import (
    STAGE_URL,
    device_code,
    events,
    is_signed_in,
    post_password,
    sign_out,
)

pytestmark = pytest.mark.django_db


def _signed_in_with_totp(client, member, device):
    post_password(client, member)
    assert client.post(STAGE_URL, {"method": "totp", "code": device_code(device)}).status_code == 302


def test_codes_are_shown_once_and_stored_hashed(client, member, totp_device):
    _signed_in_with_totp(client, member, totp_device)

    page = client.post("/account/mfa/recovery-codes")

    codes = page.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = list(RecoveryCode.objects.filter(user=member).values_list("code_hash", flat=True))
    assert len(stored) == 10
    for code in codes:
        assert code not in stored and code.replace("-", "") not in "".join(stored)
        assert recovery_code_hash(user=member, code=code) in stored
    # The overview shows how many are left, never the codes.
    overview = client.get("/account/mfa/").content.decode()
    assert "10 unused codes left." in overview
    assert codes[0] not in overview


def test_a_recovery_code_signs_in_once(client, member, totp_device):
    _signed_in_with_totp(client, member, totp_device)
    codes = client.post("/account/mfa/recovery-codes").context["codes"]
    sign_out(client)

    post_password(client, member)
    # Spaces and capitals as a member might type them are fine.
    resp = client.post(STAGE_URL, {"method": "recovery_codes", "code": " " + codes[3].upper() + " "})
    assert resp.status_code == 302 and is_signed_in(client)
    assert events(member, SecurityEvent.Kind.RECOVERY_CODE_USED)[0].data["left"] == 9
    sign_out(client)

    post_password(client, member)
    again = client.post(STAGE_URL, {"method": "recovery_codes", "code": codes[3]})
    assert again.status_code == 400 and not is_signed_in(client)
    assert events(member, SecurityEvent.Kind.MFA_CHALLENGE_FAILED)[-1].data["method"] == "recovery_codes"
    assert RecoveryCode.objects.filter(user=member, used_at__isnull=False).count() == 1


def test_new_codes_replace_the_old_ones(client, member, totp_device):
    _signed_in_with_totp(client, member, totp_device)
    old = client.post("/account/mfa/recovery-codes").context["codes"]
    new = client.post("/account/mfa/recovery-codes").context["codes"]
    assert not set(old) & set(new)
    sign_out(client)

    post_password(client, member)
    assert client.post(STAGE_URL, {"method": "recovery_codes", "code": old[0]}).status_code == 400
    assert client.post(STAGE_URL, {"method": "recovery_codes", "code": new[0]}).status_code == 302


def test_no_recovery_codes_without_another_factor(client, member):
    post_password(client, member)

    resp = client.post("/account/mfa/recovery-codes", follow=True)

    assert not RecoveryCode.objects.filter(user=member).exists()
    assert "before creating recovery codes" in resp.content.decode()
