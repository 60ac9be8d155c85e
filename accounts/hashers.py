from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from django.contrib.auth.hashers import Argon2PasswordHasher, BasePasswordHasher, identify_hasher, mask_hash
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_noop


class Argon2idHasher(Argon2PasswordHasher):
    """Argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1): about 20 ms a check.

    Django's default (m=100 MiB, p=8) costs several times that on a two-core machine and
    caps password logins far below what the hash alone would allow.
    """

    algorithm = "argon2"
    time_cost = 2
    memory_cost = 19 * 1024
    parallelism = 1


# --- password hashes imported from earlier systems (``manage.py import_members``) -------------------
#
# Each legacy format is wrapped in a Django hasher, so an imported hash is stored as it was, with
# our algorithm name in front (``bcrypt$$2y$10$…``, ``legacy_sha256$sp$<salt>$<hex>``). Django's
# ``check_password`` then verifies it, and, since none of them is our preferred hasher, re-hashes
# the password with Argon2id at the first successful sign-in. None of them can create a hash:
# ``encode`` is refused, so nothing new is ever stored in a legacy format.
#
# Formats too weak to trust (MD5 and SHA-1, salted or not, and unsalted SHA-256) never sign anyone
# in: ``verify`` answers False. ``weak_password_matches`` still tells the login page that the
# member typed their old password, which then sends them a code to set a new one.


class LegacyHasher(BasePasswordHasher):
    """Base of the imported formats: verify only, never encode; always re-hashed at sign-in."""

    weak = False

    def salt(self):  # pragma: no cover - never asked: these hashers are never preferred
        raise NotImplementedError("legacy hashes are imported, not created")

    def encode(self, password, salt):
        raise NotImplementedError("legacy hashes are imported, not created")

    def must_update(self, encoded):
        return True

    def harden_runtime(self, password, encoded):
        pass

    def decode(self, encoded):
        algorithm, data = encoded.split("$", 1)
        return {"algorithm": algorithm, "hash": data, "salt": ""}

    def safe_summary(self, encoded):
        decoded = self.decode(encoded)
        return {gettext_noop("algorithm"): decoded["algorithm"], gettext_noop("hash"): mask_hash(decoded["hash"])}

    def verify(self, password, encoded):
        if self.weak:
            return False
        return self.matches(password, encoded)

    def matches(self, password: str, encoded: str) -> bool:
        raise NotImplementedError

    def is_weak(self, encoded: str) -> bool:
        return self.weak


class LegacyBcryptHasher(LegacyHasher):
    """Raw bcrypt (``$2a$``, ``$2b$``, ``$2y$``) as PHP, Ruby, Node and Java write it.

    The same name and encoding as Django's ``BCryptPasswordHasher``, so hashes from an earlier
    Django site import unchanged. The password is cut to 72 bytes, as every bcrypt implementation
    did before bcrypt 5 started refusing longer ones.
    """

    algorithm = "bcrypt"
    library = ("bcrypt", "bcrypt")

    def matches(self, password, encoded):
        bcrypt = self._load_library()
        _, data = encoded.split("$", 1)
        try:
            return bcrypt.checkpw(password.encode()[:72], data.encode("ascii"))
        except ValueError:
            return False


def _ab64_decode(data: str) -> bytes:
    """passlib's "adapted base64": ``.`` for ``+``, no padding."""
    data = data.replace(".", "+")
    return base64.b64decode(data + "=" * (-len(data) % 4))


class LegacyPBKDF2Hasher(LegacyHasher):
    """PBKDF2 as other libraries write it (Django's own ``pbkdf2_sha256$…`` needs no wrapper).

    * passlib: ``$pbkdf2-sha256$29000$<salt>$<hash>`` (also ``-sha512`` and ``$pbkdf2$`` for SHA-1),
      salt and hash in adapted base64;
    * Werkzeug: ``pbkdf2:sha256:600000$<salt>$<hex hash>``, the salt used as text.
    """

    algorithm = "legacy_pbkdf2"

    def matches(self, password, encoded):
        _, data = encoded.split("$", 1)
        try:
            if data.startswith("$pbkdf2"):
                _, scheme, iterations, salt, expected = data.split("$")
                digest = {"pbkdf2": "sha1", "pbkdf2-sha256": "sha256", "pbkdf2-sha512": "sha512"}[scheme]
                raw = _ab64_decode(expected)
                got = hashlib.pbkdf2_hmac(digest, password.encode(), _ab64_decode(salt), int(iterations), len(raw))
                return hmac.compare_digest(got, raw)
            if data.startswith("pbkdf2:"):
                method, salt, expected = data.split("$")
                _, digest, iterations = method.split(":")
                if digest not in {"sha1", "sha256", "sha512"}:
                    return False
                raw = binascii.unhexlify(expected)
                got = hashlib.pbkdf2_hmac(digest, password.encode(), salt.encode(), int(iterations), len(raw))
                return hmac.compare_digest(got, raw)
        except (ValueError, KeyError, binascii.Error):
            return False
        return False


class SaltedDigestHasher(LegacyHasher):
    """``<algorithm>$<order>$<salt>$<hex digest>``: a single digest of the salt and the password.

    ``order`` is ``sp`` (salt, then password) or ``ps`` (password, then salt); an empty salt is an
    unsalted digest. The salt may itself contain ``$``.
    """

    digest = "sha256"

    def decode(self, encoded):
        algorithm, order, rest = encoded.split("$", 2)
        salt, digest = rest.rsplit("$", 1)
        return {"algorithm": algorithm, "order": order, "salt": salt, "hash": digest}

    def matches(self, password, encoded):
        try:
            d = self.decode(encoded)
        except ValueError:
            return False
        pw = password.encode()
        salt = d["salt"].encode()
        if d["order"] == "sp":
            message = salt + pw
        elif d["order"] == "ps":
            message = pw + salt
        else:
            return False
        got = hashlib.new(self.digest, message).hexdigest()
        return constant_time_compare(got, d["hash"].lower())

    def safe_summary(self, encoded):
        d = self.decode(encoded)
        return {
            gettext_noop("algorithm"): d["algorithm"],
            gettext_noop("salt"): mask_hash(d["salt"], show=2) if d["salt"] else "",
            gettext_noop("hash"): mask_hash(d["hash"]),
        }


class LegacySHA256Hasher(SaltedDigestHasher):
    """Salted SHA-256 (accepted, re-hashed at the first sign-in); unsalted SHA-256 is weak."""

    algorithm = "legacy_sha256"
    digest = "sha256"

    def is_weak(self, encoded):
        return not self.decode(encoded)["salt"]

    def verify(self, password, encoded):
        return not self.is_weak(encoded) and self.matches(password, encoded)


class LegacySHA1Hasher(SaltedDigestHasher):
    """SHA-1, salted or not: too weak to sign in with."""

    algorithm = "legacy_sha1"
    digest = "sha1"
    weak = True


class LegacyMD5Hasher(SaltedDigestHasher):
    """MD5, salted or not: too weak to sign in with."""

    algorithm = "legacy_md5"
    digest = "md5"
    weak = True


def weak_password_matches(user, password: str) -> bool:
    """Whether ``user`` holds an imported hash too weak to sign in with, and ``password`` matches it.

    Used only by the login page to start the "set a new password with an emailed code" step;
    ``check_password`` itself never accepts these hashes.
    """
    encoded = getattr(user, "password", "") or ""
    if not is_weak_encoded(encoded):
        return False
    return identify_hasher(encoded).matches(password, encoded)


# --- turning a legacy system's hash into a stored password -------------------------------------------

_BCRYPT = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")
_HEX = {"sha256": 64, "sha1": 40, "md5": 32}
DIGEST_FORMATS = {
    f"{digest}{suffix}": (digest, order)
    for digest in _HEX
    for suffix, order in (("", "sp"), ("_salt_pass", "sp"), ("_pass_salt", "ps"))
}
HASH_FORMATS = ("auto", "bcrypt", "pbkdf2", "argon2", "django", *DIGEST_FORMATS)


def legacy_password(raw: str, *, hash_format: str = "auto", salt: str = "") -> str:
    """The ``password`` column for a hash exported by an earlier system, stored as it is.

    ``hash_format`` ``auto`` recognises bcrypt, Argon2, PBKDF2 (Django, passlib, Werkzeug) and
    Django's own encodings; salted digests need their format named (``sha256_salt_pass``,
    ``md5_pass_salt``, … where the name says the order; a bare ``md5``/``sha1``/``sha256`` is
    unsalted unless a salt is given, then salt first). Raises ``ValueError`` for anything else.
    """
    raw = (raw or "").strip()
    encoded = _legacy_password(raw, hash_format=hash_format, salt=salt)
    if len(encoded) > 256:  # accounts.models.PASSWORD_MAX_LENGTH
        raise ValueError("hash too long")
    return encoded


def _legacy_password(raw: str, *, hash_format: str, salt: str) -> str:
    if hash_format in DIGEST_FORMATS:
        digest, order = DIGEST_FORMATS[hash_format]
        if "$" in raw or len(raw) != _HEX[digest] or any(c not in "0123456789abcdefABCDEF" for c in raw):
            raise ValueError(f"not a hex {digest} digest")
        return f"legacy_{digest}${order}${salt}${raw.lower()}"
    if salt:
        raise ValueError("a salt goes with a salted digest format only")
    if hash_format not in HASH_FORMATS:
        raise ValueError("unknown hash format")
    if _BCRYPT.match(raw) and hash_format in ("auto", "bcrypt"):
        return "bcrypt$" + raw
    if raw.startswith("$argon2") and hash_format in ("auto", "argon2"):
        import argon2

        try:
            argon2.extract_parameters(raw)
        except argon2.exceptions.InvalidHashError as exc:
            raise ValueError("not an Argon2 hash") from exc
        return "argon2" + raw
    if (raw.startswith(("$pbkdf2$", "$pbkdf2-sha256$", "$pbkdf2-sha512$")) and raw.count("$") == 4) or (
        raw.startswith("pbkdf2:") and raw.count("$") == 2
    ):
        if hash_format in ("auto", "pbkdf2"):
            return "legacy_pbkdf2$" + raw
    if hash_format in ("auto", "django", "pbkdf2", "bcrypt", "argon2"):
        try:
            hasher = identify_hasher(raw)
        except ValueError:
            hasher = None
        if hasher is not None and hasher.algorithm in _DJANGO_IMPORTABLE:
            return raw
    raise ValueError("unknown hash format")


_DJANGO_IMPORTABLE = {"pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt", "bcrypt_sha256", "scrypt"}


def is_weak_encoded(encoded: str) -> bool:
    """A stored password in a format that cannot sign in (see ``weak_password_matches``)."""
    try:
        hasher = identify_hasher(encoded)
    except ValueError:
        return False
    return isinstance(hasher, LegacyHasher) and hasher.is_weak(encoded)
