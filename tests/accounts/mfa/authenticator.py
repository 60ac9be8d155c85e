"""A software WebAuthn authenticator plus the browser's part of the ceremony, for tests.

It is the client side of WebAuthn (what a platform authenticator and the browser produce),
built from the specification: an EC P-256 key, a 'none' attestation object and
authenticatorData encoded with cbor2, clientDataJSON, ES256 signatures. The server under
test is never mocked; the knobs below forge what an attacker could (another origin, RP ID,
challenge, a counter that goes backwards).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Passkey:
    rp_id: str
    user_handle: bytes
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    sign_count: int = 0


class SoftAuthenticator:
    """Holds discoverable credentials; answers creation and request options like a browser would."""

    aaguid = bytes(16)

    def __init__(self, origin: str = "http://testserver", *, counting: bool = True, backup: bool = False):
        self.origin = origin
        self.counting = counting  # False: like synced passkeys, the counter stays 0
        self.backup = backup
        self.passkeys: list[Passkey] = []

    # --- helpers ---------------------------------------------------------------------------------
    def _cose_key(self, key: ec.EllipticCurvePrivateKey) -> bytes:
        numbers = key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )

    def _flags(self, uv: bool, extra: int = 0) -> int:
        flags = UP | extra
        if uv:
            flags |= UV
        if self.backup:
            flags |= BE | BS
        return flags

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False},
            separators=(",", ":"),
        ).encode()

    # --- navigator.credentials.create() --------------------------------------------------------------
    def create(
        self,
        options: dict,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        uv: bool = True,
        credential_id: bytes | None = None,
    ) -> dict:
        excluded = {c["id"] for c in options.get("excludeCredentials", [])}
        if any(b64u(p.credential_id) in excluded for p in self.passkeys):
            raise ValueError("InvalidStateError: a credential of this authenticator is excluded")
        passkey = Passkey(rp_id=rp_id or options["rp"]["id"], user_handle=unb64u(options["user"]["id"]))
        if credential_id is not None:  # a rogue authenticator reusing another credential's id
            passkey.credential_id = credential_id
        attested = (
            self.aaguid
            + struct.pack(">H", len(passkey.credential_id))
            + passkey.credential_id
            + self._cose_key(passkey.private_key)
        )
        auth_data = (
            hashlib.sha256(passkey.rp_id.encode()).digest()
            + bytes([self._flags(uv, AT)])
            + struct.pack(">I", passkey.sign_count)
            + attested
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", challenge or options["challenge"], origin)
        self.passkeys.append(passkey)
        return {
            "id": b64u(passkey.credential_id),
            "rawId": b64u(passkey.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {"credProps": {"rk": True}},
            "response": {
                "clientDataJSON": b64u(client_data),
                "attestationObject": b64u(attestation),
                "transports": ["internal", "hybrid"],
            },
        }

    # --- navigator.credentials.get() ----------------------------------------------------------------
    def get(
        self,
        options: dict,
        *,
        passkey: Passkey | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        uv: bool = True,
        sign_count: int | None = None,
    ) -> dict:
        allowed = {c["id"] for c in options.get("allowCredentials", [])}
        if passkey is None:
            candidates = [p for p in self.passkeys if not allowed or b64u(p.credential_id) in allowed]
            if not candidates:
                raise ValueError("NotAllowedError: no credential for this request")
            passkey = candidates[-1]
        if sign_count is not None:
            passkey.sign_count = sign_count
        elif self.counting:
            passkey.sign_count += 1
        auth_data = (
            hashlib.sha256((rp_id or options.get("rpId") or passkey.rp_id).encode()).digest()
            + bytes([self._flags(uv)])
            + struct.pack(">I", passkey.sign_count)
        )
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        signature = passkey.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64u(passkey.credential_id),
            "rawId": b64u(passkey.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64u(client_data),
                "authenticatorData": b64u(auth_data),
                "signature": b64u(signature),
                "userHandle": b64u(passkey.user_handle),
            },
        }
