"""Changing the phone number: the number changes only after the code sent by SMS is entered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.app_settings import app_settings as account_settings
from accounts.models import PhoneVerification, SecurityEvent
from accounts.phone import services
from accounts.phone.app_settings import phone_settings
from tests.accounts.mfa.conftest import age_authentication
from tests.conftest import login

pytestmark = pytest.mark.django_db

NUMBER = "+819012345678"


@pytest.fixture
def signed_in(client, member):
    login(client, member)
    return client


def send_code(client, capture, number: str = "090-1234-5678"):
    with capture(execute=True):
        return client.post("/account/phone/", {"phone_number": number})


def test_the_number_changes_only_after_the_right_code(
    signed_in, member, sms_gateway, django_capture_on_commit_callbacks
):
    resp = send_code(signed_in, django_capture_on_commit_callbacks)
    assert resp.status_code == 302 and resp["Location"] == "/account/phone/verify"

    [message] = sms_gateway.messages
    assert message["to"] == NUMBER  # the national number got the default country code
    assert message["authorization"] == "Bearer gateway-token"
    member.refresh_from_db()
    assert member.phone_number == "" and not member.phone_number_verified

    page = signed_in.get("/account/phone/verify")
    assert page.status_code == 200 and NUMBER in page.content.decode()

    resp = signed_in.post("/account/phone/verify", {"code": sms_gateway.last_code()})
    assert resp.status_code == 302 and resp["Location"] == "/account/"
    member.refresh_from_db()
    assert member.phone_number == NUMBER and member.phone_number_verified
    assert SecurityEvent.objects.filter(user=member, kind=SecurityEvent.Kind.PHONE_CHANGED).count() == 1
    # The code is stored as a keyed hash, never in clear.
    verification = PhoneVerification.objects.get(user=member)
    assert sms_gateway.last_code() not in verification.code_hash and verification.verified_at is not None
    # Used once: the page has nothing pending any more.
    assert signed_in.get("/account/phone/verify")["Location"] == "/account/phone/"
    home = signed_in.get("/account/").content.decode()
    assert NUMBER in home


def test_a_wrong_code_changes_nothing_and_counts(signed_in, member, sms_gateway, django_capture_on_commit_callbacks):
    send_code(signed_in, django_capture_on_commit_callbacks)
    right = sms_gateway.last_code()
    wrong = "000000" if right != "000000" else "111111"

    resp = signed_in.post("/account/phone/verify", {"code": wrong})

    assert resp.status_code == 400
    assert 'id="phone-code-errors"' in resp.content.decode()
    member.refresh_from_db()
    assert member.phone_number == ""
    assert PhoneVerification.objects.get(user=member).attempts == 1


def test_too_many_wrong_codes_end_the_code(signed_in, member, sms_gateway, django_capture_on_commit_callbacks):
    send_code(signed_in, django_capture_on_commit_callbacks)
    right = sms_gateway.last_code()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(phone_settings.MAX_ATTEMPTS):
        assert signed_in.post("/account/phone/verify", {"code": wrong}).status_code == 400

    resp = signed_in.post("/account/phone/verify", {"code": right})

    assert resp.status_code == 400
    assert str(services.PhoneError("too_many_attempts").message) in resp.content.decode()
    member.refresh_from_db()
    assert member.phone_number == ""


def test_an_expired_code_is_refused(signed_in, member, sms_gateway, django_capture_on_commit_callbacks):
    send_code(signed_in, django_capture_on_commit_callbacks)
    PhoneVerification.objects.filter(user=member).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(services.PhoneError) as error:
        services.phone_verification_confirm(
            user=member,
            verification_id=PhoneVerification.objects.get(user=member).pk,
            code=sms_gateway.last_code(),
        )

    assert error.value.code == "expired"
    member.refresh_from_db()
    assert member.phone_number == ""


def test_codes_expire_after_ten_minutes_by_default(member, sms_gateway, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        verification = services.phone_verification_start(user=member, phone_number=NUMBER)
    assert verification.expires_at - verification.created == timedelta(minutes=10)


def test_a_new_code_replaces_the_previous_one(signed_in, member, sms_gateway, django_capture_on_commit_callbacks):
    send_code(signed_in, django_capture_on_commit_callbacks)
    first = PhoneVerification.objects.get(user=member)
    first_code = sms_gateway.last_code()
    send_code(signed_in, django_capture_on_commit_callbacks, "+81 80 1111 2222")

    with pytest.raises(services.PhoneError) as error:
        services.phone_verification_confirm(user=member, verification_id=first.pk, code=first_code)
    assert error.value.code == "expired"


def test_sends_are_rate_limited_per_account(signed_in, member, sms_gateway, django_capture_on_commit_callbacks):
    for i in range(phone_settings.MAX_SENDS):
        assert send_code(signed_in, django_capture_on_commit_callbacks, f"+8190000000{i:02d}").status_code == 302

    resp = send_code(signed_in, django_capture_on_commit_callbacks, "+819000000099")

    assert resp.status_code == 400
    assert str(services.PhoneError("rate_limited").message) in resp.content.decode()
    assert len(sms_gateway.messages) == phone_settings.MAX_SENDS
    assert SecurityEvent.objects.filter(user=member, kind=SecurityEvent.Kind.THROTTLED).exists()


def test_sends_are_rate_limited_per_number(django_user_model, sms_gateway, django_capture_on_commit_callbacks):
    """One number cannot be flooded from many accounts."""
    for i in range(phone_settings.MAX_SENDS):
        user = django_user_model.objects.create_user(email=f"m{i}@example.com")
        with django_capture_on_commit_callbacks(execute=True):
            services.phone_verification_start(user=user, phone_number=NUMBER)
    other = django_user_model.objects.create_user(email="other@example.com")

    with pytest.raises(services.PhoneError) as error:
        services.phone_verification_start(user=other, phone_number=NUMBER)

    assert error.value.code == "rate_limited"


def test_the_limit_lifts_when_the_window_has_passed(member, sms_gateway, django_capture_on_commit_callbacks):
    for i in range(phone_settings.MAX_SENDS):
        with django_capture_on_commit_callbacks(execute=True):
            services.phone_verification_start(user=member, phone_number=f"+8190000000{i:02d}")
    PhoneVerification.objects.update(created=timezone.now() - timedelta(seconds=phone_settings.SEND_WINDOW + 1))

    with django_capture_on_commit_callbacks(execute=True):
        services.phone_verification_start(user=member, phone_number=NUMBER)
    assert sms_gateway.messages[-1]["to"] == NUMBER


@pytest.mark.parametrize("raw", ["12345", "abc", "+0123456789", "", "+81 90 1234 5678 9999 99"])
def test_invalid_numbers_are_refused_on_the_form(signed_in, sms_gateway, django_capture_on_commit_callbacks, raw):
    resp = send_code(signed_in, django_capture_on_commit_callbacks, raw)
    assert resp.status_code == 400
    assert sms_gateway.messages == []


def test_an_old_session_confirms_who_it_is_first(signed_in, member, sms_gateway):
    age_authentication(signed_in, account_settings.RECENT_AUTH_SECONDS + 1)

    resp = signed_in.post("/account/phone/", {"phone_number": NUMBER})

    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/reauthenticate/")
    assert sms_gateway.messages == [] and not PhoneVerification.objects.exists()
    assert signed_in.get("/account/phone/verify")["Location"].startswith("/accounts/reauthenticate/")


def test_signed_out_visitors_are_sent_to_sign_in(client):
    resp = client.get("/account/phone/")
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")


def test_a_code_of_another_account_cannot_be_used(
    signed_in, member, django_user_model, sms_gateway, django_capture_on_commit_callbacks
):
    other = django_user_model.objects.create_user(email="other@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        theirs = services.phone_verification_start(user=other, phone_number="+818011112222")

    with pytest.raises(services.PhoneError) as error:
        services.phone_verification_confirm(user=member, verification_id=theirs.pk, code=sms_gateway.last_code())
    assert error.value.code == "no_pending"


def test_a_gateway_error_is_logged_not_shown_as_a_500(
    signed_in, member, sms_gateway, django_capture_on_commit_callbacks
):
    sms_gateway.status = 400
    resp = send_code(signed_in, django_capture_on_commit_callbacks)
    assert resp.status_code == 302
    assert len(sms_gateway.messages) == 1


def test_the_console_backend_is_the_default(member, settings, capsys, django_capture_on_commit_callbacks):
    settings.SMS_URL = settings.SMS_BACKEND = ""
    with django_capture_on_commit_callbacks(execute=True):
        services.phone_verification_start(user=member, phone_number=NUMBER)
    out = capsys.readouterr().out
    assert f"SMS to {NUMBER}:" in out


def test_removing_the_number(signed_in, member):
    member.phone_number, member.phone_number_verified = NUMBER, True
    member.save()
    resp = signed_in.post("/account/phone/remove")
    assert resp.status_code == 302
    member.refresh_from_db()
    assert member.phone_number == "" and not member.phone_number_verified


def _admin_post_data(page) -> dict:
    """The admin change form as the browser would submit it unchanged (main form and inlines)."""
    data = {}
    form = page.context["adminform"].form
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None or name == "password":
            continue
        if isinstance(value, (list, tuple)) or hasattr(value, "all"):
            data[name] = [getattr(v, "pk", v) for v in (value.all() if hasattr(value, "all") else value)]
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = value
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = value
    return data


def test_a_number_staff_type_in_is_not_verified(client, member):
    from tests.accounts.mfa.conftest import force_login_with_mfa

    staff = type(member).objects.create_superuser(email="staff@example.com", password="x-staff-password-123")
    force_login_with_mfa(client, staff)
    member.phone_number, member.phone_number_verified = NUMBER, True
    member.save()
    page = client.get(f"/admin/accounts/user/{member.pk}/change/")
    data = _admin_post_data(page)

    unchanged = client.post(f"/admin/accounts/user/{member.pk}/change/", data)
    assert unchanged.status_code == 302, unchanged.context["adminform"].form.errors if unchanged.context else ""
    member.refresh_from_db()
    assert member.phone_number_verified

    data["phone_number"] = "+818099998888"
    assert client.post(f"/admin/accounts/user/{member.pk}/change/", data).status_code == 302
    member.refresh_from_db()
    assert member.phone_number == "+818099998888" and not member.phone_number_verified
