"""Email one-time codes (django-otp EmailDevice): a fallback next to another factor."""

from __future__ import annotations

import re

import pytest
from django_otp.plugins.otp_email.models import EmailDevice

from accounts.models import SecurityEvent
from tests.accounts.mfa.conftest import STAGE_URL, device_code, events, is_signed_in, post_password, sign_out

pytestmark = pytest.mark.django_db


def _code_from(mail) -> str:
    return re.search(r"\b(\d{6})\b", mail.body).group(1)


def test_email_codes_need_another_factor_first(client, member):
    post_password(client, member)

    resp = client.post("/account/mfa/email/enable", follow=True)

    assert not EmailDevice.objects.filter(user=member).exists()
    assert "set up an authenticator app or a passkey first" in resp.content.decode()


def test_sign_in_with_an_emailed_code(
    client, member, totp_device, mailoutbox, django_capture_on_commit_callbacks
):
    post_password(client, member)
    client.post(STAGE_URL, {"method": "totp", "code": device_code(totp_device)})
    assert client.post("/account/mfa/email/enable").status_code == 302
    assert EmailDevice.objects.get(user=member).confirmed
    assert events(member, SecurityEvent.Kind.MFA_ADDED)[-1].data["method"] == "email"
    sign_out(client)

    post_password(client, member)
    page = client.get(STAGE_URL)
    assert "email" in page.context["methods"]
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(STAGE_URL, {"action": "send_email"})
    assert sent.status_code == 200
    [mail] = mailoutbox
    assert mail.to == [member.email]
    code = _code_from(mail)
    assert code in mail.subject

    # Asking again at once is refused (django-otp cooldown), and sends nothing.
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(STAGE_URL, {"action": "send_email"})
    assert "Wait a minute" in again.content.decode()
    assert len(mailoutbox) == 1

    wrong = "000000" if code != "000000" else "111111"
    assert client.post(STAGE_URL, {"method": "email", "code": wrong}).status_code == 400
    assert not is_signed_in(client)
    device = EmailDevice.objects.get(user=member)
    device.throttling_failure_timestamp = device.throttling_failure_timestamp.replace(year=2000)
    device.save(update_fields=["throttling_failure_timestamp"])

    resp = client.post(STAGE_URL, {"method": "email", "code": code})
    assert resp.status_code == 302 and is_signed_in(client)
    sign_out(client)

    # The code was consumed.
    post_password(client, member)
    assert client.post(STAGE_URL, {"method": "email", "code": code}).status_code == 400


def test_an_expired_email_code_is_refused(
    client, member, totp_device, mailoutbox, django_capture_on_commit_callbacks
):
    EmailDevice.objects.create(user=member, name="Email", confirmed=True)
    post_password(client, member)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(STAGE_URL, {"action": "send_email"})
    code = _code_from(mailoutbox[0])
    device = EmailDevice.objects.get(user=member)
    device.valid_until = device.valid_until.replace(year=2000)
    device.save(update_fields=["valid_until"])

    resp = client.post(STAGE_URL, {"method": "email", "code": code})

    assert resp.status_code == 400 and not is_signed_in(client)
