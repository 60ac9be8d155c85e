"""Standard Webhooks 1.0 signatures: the specification's test vector, and what a receiver refuses."""

from __future__ import annotations

import base64

import pytest

from consent.outbox import signing
from consent.outbox.signing import WebhookVerificationError, verify

SPEC = "Standard Webhooks 1.0"

# The specification's published test vector (also in its reference libraries' tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def headers(signature=VECTOR_SIGNATURE, timestamp=VECTOR_TIMESTAMP, msg_id=VECTOR_ID) -> dict:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


@pytest.mark.spec(f"{SPEC} §Signature scheme")
def test_signs_like_the_specification_test_vector():
    assert (
        signing.sign(secret=VECTOR_SECRET, msg_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY)
        == VECTOR_SIGNATURE
    )
    assert verify(secret=VECTOR_SECRET, body=VECTOR_BODY, headers=headers(), now=VECTOR_TIMESTAMP) == {
        "test": 2432232314
    }


@pytest.mark.spec(f"{SPEC} §Verifying signatures")
@pytest.mark.parametrize(
    "body, hdrs, error",
    [
        (b'{"test": 2432232315}', headers(), "no matching signature"),  # body changed
        (VECTOR_BODY, headers(timestamp=VECTOR_TIMESTAMP + 1), "no matching signature"),  # timestamp changed
        (VECTOR_BODY, headers(msg_id="msg_other"), "no matching signature"),  # id changed
        (VECTOR_BODY, headers(signature="v1," + base64.b64encode(b"x" * 32).decode()), "no matching"),
        (VECTOR_BODY, headers(signature=VECTOR_SIGNATURE.replace("v1,", "v1a,")), "no matching"),
        (VECTOR_BODY, headers(signature="v1,not base64!"), "no matching"),
        (VECTOR_BODY, {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TIMESTAMP)}, "missing"),
        (VECTOR_BODY, headers(timestamp="1614265330.5"), "invalid webhook-timestamp"),
        (VECTOR_BODY, headers(msg_id="a.b"), "invalid webhook-id"),
    ],
    ids=["body", "timestamp", "id", "forged", "v1a-only", "garbage", "no-signature", "float-ts", "dotted-id"],
)
def test_tampered_deliveries_are_refused(body, hdrs, error):
    with pytest.raises(WebhookVerificationError, match=error):
        verify(secret=VECTOR_SECRET, body=body, headers=hdrs, now=VECTOR_TIMESTAMP)


@pytest.mark.spec(f"{SPEC} §Verifying signatures")
def test_timestamp_outside_the_tolerance_is_refused_both_ways():
    """A captured delivery replayed later (or a forward-dated one) fails, even with a good signature."""
    assert verify(secret=VECTOR_SECRET, body=VECTOR_BODY, headers=headers(), now=VECTOR_TIMESTAMP + 300)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(secret=VECTOR_SECRET, body=VECTOR_BODY, headers=headers(), now=VECTOR_TIMESTAMP + 301)
    with pytest.raises(WebhookVerificationError, match="too new"):
        verify(secret=VECTOR_SECRET, body=VECTOR_BODY, headers=headers(), now=VECTOR_TIMESTAMP - 301)
    assert verify(secret=VECTOR_SECRET, body=VECTOR_BODY, headers=headers(), now=VECTOR_TIMESTAMP + 500, tolerance=600)


def test_wrong_secret_is_refused_and_headers_are_case_insensitive():
    other = signing.secret_generate()
    upper = {k.upper(): v for k, v in headers().items()}
    assert verify(secret=VECTOR_SECRET, body=VECTOR_BODY, headers=upper, now=VECTOR_TIMESTAMP)
    with pytest.raises(WebhookVerificationError):
        verify(secret=other, body=VECTOR_BODY, headers=headers(), now=VECTOR_TIMESTAMP)


@pytest.mark.spec(f"{SPEC} §Webhook headers")
def test_rotation_sends_two_signatures_and_either_secret_verifies():
    old, new = signing.secret_generate(), signing.secret_generate()
    sent = signing.signed_headers(keys=[new, old], msg_id="evt_1", timestamp=VECTOR_TIMESTAMP, body=b"{}")
    assert sent["webhook-signature"].count("v1,") == 2 and " " in sent["webhook-signature"]
    for key in (old, new, [signing.secret_generate(), new]):
        assert verify(secret=key, body=b"{}", headers=sent, now=VECTOR_TIMESTAMP) == {}
    with pytest.raises(WebhookVerificationError):
        verify(secret=signing.secret_generate(), body=b"{}", headers=sent, now=VECTOR_TIMESTAMP)


def test_generated_secrets_follow_the_specification_format():
    secret = signing.secret_generate()
    assert secret.startswith("whsec_") and len(signing.secret_decode(secret)) == 32
    assert signing.secret_decode(secret[len("whsec_") :]) == signing.secret_decode(secret)  # prefix optional
    assert secret != signing.secret_generate()
    assert len(signing.secret_fingerprint(secret)) == 12
    with pytest.raises(ValueError):
        signing.secret_decode("whsec_" + base64.b64encode(b"short").decode())  # under 24 bytes
    with pytest.raises(ValueError):
        signing.secret_decode("whsec_not base64!")


def test_a_sealed_secret_is_not_stored_in_clear_and_survives_a_secret_key_rotation(settings):
    secret = signing.secret_generate()
    sealed = signing.secret_seal(secret)
    assert secret not in sealed and secret[6:] not in sealed
    assert signing.secret_unseal(sealed) == secret

    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a new secret key " + "x" * 40, [old_key]
    assert signing.secret_unseal(sealed) == secret  # opened with the fallback
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(ValueError, match="SECRET_KEY_FALLBACKS"):
        signing.secret_unseal(sealed)
