"""Secrets and signing keys generated at set-up into ``var/`` (ignored by git).

Runs without Django settings so that ``make setup`` and the settings module can
both call it. Production reads ``SECRET_KEY`` and the signing key from the
environment or from the same files, created by ``python -m idp.bootstrap``.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("IDP_VAR_DIR", BASE_DIR / "var"))
KEYS_DIR = VAR_DIR / "keys"
SECRET_FILE = VAR_DIR / "secret_key"
KEYRING_FILE = KEYS_DIR / "signing.json"


def _write_private(path: Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(data)


def ensure_secret_key() -> str:
    if not SECRET_FILE.exists():
        try:
            _write_private(SECRET_FILE, secrets.token_urlsafe(64))
        except FileExistsError:  # another process won the race
            pass
    return SECRET_FILE.read_text().strip()


def generate_rsa_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def read_keyring() -> dict:
    if not KEYRING_FILE.exists():
        return {"active": None, "inactive": []}
    return json.loads(KEYRING_FILE.read_text())


def write_keyring(ring: dict) -> None:
    KEYS_DIR.mkdir(parents=True, exist_ok=True)
    tmp = KEYRING_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(ring, indent=2))
    os.chmod(tmp, 0o600)
    tmp.replace(KEYRING_FILE)


def new_key_file() -> str:
    name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4) + ".pem"
    _write_private(KEYS_DIR / name, generate_rsa_pem())
    return name


def ensure_signing_key() -> None:
    ring = read_keyring()
    if ring.get("active") and (KEYS_DIR / ring["active"]).exists():
        return
    ring["active"] = new_key_file()
    write_keyring(ring)


def load_signing_keys() -> tuple[str, list[str]]:
    """Return the active private key PEM and the PEMs still published in the JWKS."""
    ring = read_keyring()
    active = (KEYS_DIR / ring["active"]).read_text()
    inactive = [(KEYS_DIR / k["file"]).read_text() for k in ring.get("inactive", [])]
    return active, inactive


def main() -> None:
    ensure_secret_key()
    ensure_signing_key()
    print(f"secrets and signing keys are in {VAR_DIR}")


if __name__ == "__main__":
    main()
