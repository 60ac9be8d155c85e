"""Standard Webhooks 1.0 signatures (symmetric ``v1``), and webhook secrets sealed at rest.

A delivery carries three headers:

* ``webhook-id``: the event id (``evt_…``), the same on every retry: receivers dedupe by it;
* ``webhook-timestamp``: Unix seconds of this attempt;
* ``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256(secret, "id.timestamp.body")>``,
  two of them while a rotated secret overlaps with the new one.

Secrets are shown as ``whsec_<base64 of 32 random bytes>``, the format of the specification, so
its libraries (``standardwebhooks``, ``svix``) verify our deliveries unchanged. :func:`verify` is
the receiver's side, used by our tests and shown in ``docs/webhooks.md``.

Stored secrets are encrypted (Fernet) with a key derived from ``SECRET_KEY`` by HKDF; keys in
``SECRET_KEY_FALLBACKS`` still open secrets sealed before a ``SECRET_KEY`` rotation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable, Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
_SEAL_INFO = b"ciam consent.outbox webhook secret v1"


class WebhookVerificationError(Exception):
    """A delivery that must not be trusted: bad or missing headers, no matching signature, or a
    timestamp outside the tolerance."""


# --- Secrets -------------------------------------------------------------------------------------


def secret_generate() -> str:
    """A fresh secret in the specification's format: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_decode(secret: str | bytes) -> bytes:
    """The key bytes of ``whsec_…`` (the prefix is optional, as in the reference libraries)."""
    if isinstance(secret, bytes):
        key = secret
    else:
        secret = secret.strip()
        if secret.startswith(SECRET_PREFIX):
            secret = secret[len(SECRET_PREFIX) :]
        try:
            key = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError("a webhook secret is whsec_ followed by base64") from error
    if len(key) < 24:  # the specification's minimum (192 bits)
        raise ValueError("a webhook secret must hold at least 24 bytes")
    return key


def secret_fingerprint(secret: str | bytes) -> str:
    """First 12 hex digits of SHA-256 of the key bytes: lets staff and receivers compare secrets
    without showing them."""
    return hashlib.sha256(secret_decode(secret)).hexdigest()[:12]


def _fernet(key_material: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO).derive(key_material.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _sealer() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(k) for k in keys])


def secret_seal(secret: str) -> str:
    """Encrypt a secret for storage (with the current ``SECRET_KEY``)."""
    secret_decode(secret)  # refuse to store something that cannot sign
    return _sealer().encrypt(secret.encode()).decode()


def secret_unseal(sealed: str) -> str:
    try:
        return _sealer().decrypt(sealed.encode()).decode()
    except InvalidToken as error:
        raise ValueError(
            "cannot decrypt a webhook secret: SECRET_KEY changed (keep the old one in SECRET_KEY_FALLBACKS "
            "until every subscription's secret is rotated)"
        ) from error


# --- Signing -------------------------------------------------------------------------------------


def sign(*, secret: str | bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``"{msg_id}.{timestamp}.{body}"``."""
    if "." in msg_id:
        raise ValueError("a webhook id must not contain '.'")
    content = msg_id.encode() + b"." + str(int(timestamp)).encode() + b"." + body
    digest = hmac.new(secret_decode(secret), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(*, keys: Iterable[str | bytes], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with each secret in ``keys`` (current first)."""
    signatures = [sign(secret=k, msg_id=msg_id, timestamp=timestamp, body=body) for k in keys]
    if not signatures:
        raise ValueError("no secret to sign with")
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(int(timestamp)),
        HEADER_SIGNATURE: " ".join(signatures),
    }


def verify(
    *,
    secret: str | bytes | Iterable[str | bytes],
    body: bytes | str,
    headers: Mapping[str, str],
    tolerance: int | None = None,
    now: float | None = None,
    json_parse: bool = True,
):
    """Check a delivery as a receiver must; return the parsed JSON body (or ``None``).

    ``secret`` may be a list (a receiver in the middle of a rotation). ``headers`` are matched
    case-insensitively. Raises :class:`WebhookVerificationError` when a header is missing, the
    timestamp is more than ``tolerance`` seconds (default ``CONSENT_WEBHOOKS_TIMESTAMP_TOLERANCE``,
    300) from ``now``, or no ``v1`` signature matches (compared in constant time). Replays inside
    the tolerance carry the same ``webhook-id``: a receiver processes each id once.
    """
    if tolerance is None:
        from consent.outbox.app_settings import webhook_settings

        tolerance = webhook_settings.TIMESTAMP_TOLERANCE
    keys = [secret] if isinstance(secret, str | bytes) else list(secret)
    body = body.encode() if isinstance(body, str) else body
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get(HEADER_ID, "")
    stamp = lowered.get(HEADER_TIMESTAMP, "")
    signature_header = lowered.get(HEADER_SIGNATURE, "")
    if not (msg_id and stamp and signature_header):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    if "." in msg_id:
        raise WebhookVerificationError("invalid webhook-id")
    if not stamp.isascii() or not stamp.isdigit():
        raise WebhookVerificationError("invalid webhook-timestamp")
    timestamp = int(stamp)
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError("webhook-timestamp too old")
    if timestamp > current + tolerance:
        raise WebhookVerificationError("webhook-timestamp too new")

    expected = [
        base64.b64decode(sign(secret=k, msg_id=msg_id, timestamp=timestamp, body=body).split(",", 1)[1]) for k in keys
    ]
    for candidate in signature_header.split():
        version, _, value = candidate.partition(",")
        if version != SIGNATURE_VERSION:
            continue  # v1a (asymmetric) and future versions are not ours to check
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(given, e) for e in expected):
            return json.loads(body) if json_parse else None
    raise WebhookVerificationError("no matching signature")
