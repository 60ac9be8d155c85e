"""Password hashes imported from earlier systems: each format signs in through the real login page
with its real library's hash and is re-hashed with Argon2id at once; weak formats never sign in and
lead the member to an emailed code and a new password."""

from __future__ import annotations

import base64
import hashlib
import os
import re

import bcrypt
import pytest
from allauth.account.models import EmailAddress
from argon2 import PasswordHasher
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.core import mail

from accounts.hashers import is_weak_encoded, legacy_password

PASSWORD = "Legacy pässword 2019"
NEW_PASSWORD = "a brand new passphrase 77"


def _ab64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=").replace("+", ".")


def _passlib_pbkdf2(password: str, digest: str = "sha256", rounds: int = 29000) -> str:
    salt = os.urandom(16)
    key = hashlib.pbkdf2_hmac(digest, password.encode(), salt, rounds)
    scheme = "pbkdf2" if digest == "sha1" else f"pbkdf2-{digest}"
    return f"${scheme}${rounds}${_ab64(salt)}${_ab64(key)}"


def _werkzeug_pbkdf2(password: str, rounds: int = 600000) -> str:
    salt = "Ye1kuxX5aB"
    return (
        f"pbkdf2:sha256:{rounds}${salt}$"
        + hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds).hex()
    )


def _bcrypt(password: str, prefix: str = "2b") -> str:
    return (
        bcrypt.hashpw(password.encode(), bcrypt.gensalt(4, prefix=b"2a" if prefix == "2a" else b"2b"))
        .decode()
        .replace("$2b$", f"${prefix}$", 1)
    )


STRONG = {
    "bcrypt $2b$": lambda pw: (_bcrypt(pw), "auto", ""),
    "bcrypt $2a$": lambda pw: (_bcrypt(pw, "2a"), "bcrypt", ""),
    "bcrypt $2y$ (PHP)": lambda pw: (_bcrypt(pw, "2y"), "auto", ""),
    "argon2id raw": lambda pw: (PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash(pw), "auto", ""),
    "argon2i raw": lambda pw: (
        PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1, type=__import__("argon2").Type.I).hash(pw),
        "argon2",
        "",
    ),
    "passlib pbkdf2-sha256": lambda pw: (_passlib_pbkdf2(pw), "auto", ""),
    "passlib pbkdf2-sha512": lambda pw: (_passlib_pbkdf2(pw, "sha512", 25000), "pbkdf2", ""),
    "passlib pbkdf2 (sha1)": lambda pw: (_passlib_pbkdf2(pw, "sha1", 131000), "auto", ""),
    "werkzeug pbkdf2": lambda pw: (_werkzeug_pbkdf2(pw), "auto", ""),
    "django pbkdf2_sha256": lambda pw: (make_password(pw, hasher="pbkdf2_sha256"), "auto", ""),
    "sha256 salt+password": lambda pw: (
        hashlib.sha256(b"NaCl$1" + pw.encode()).hexdigest(),
        "sha256_salt_pass",
        "NaCl$1",
    ),
    "sha256 password+salt": lambda pw: (
        hashlib.sha256(pw.encode() + b"pepper").hexdigest().upper(),
        "sha256_pass_salt",
        "pepper",
    ),
}

WEAK = {
    "md5 salt+password": lambda pw: (hashlib.md5(b"s4lt" + pw.encode()).hexdigest(), "md5_salt_pass", "s4lt"),
    "md5 password+salt": lambda pw: (hashlib.md5(pw.encode() + b"s4lt").hexdigest(), "md5_pass_salt", "s4lt"),
    "md5 unsalted": lambda pw: (hashlib.md5(pw.encode()).hexdigest(), "md5", ""),
    "sha1 unsalted": lambda pw: (hashlib.sha1(pw.encode()).hexdigest(), "sha1", ""),
    "sha1 salted": lambda pw: (hashlib.sha1(b"x" + pw.encode()).hexdigest(), "sha1_salt_pass", "x"),
    "sha256 unsalted": lambda pw: (hashlib.sha256(pw.encode()).hexdigest(), "sha256", ""),
}


def imported_member(encoded: str, email: str = "legacy@example.com"):
    user = get_user_model().objects.create(email=email, password=encoded)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def login(client, email: str, password: str):
    return client.post("/accounts/login/", {"login": email, "password": password})


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("name", sorted(STRONG))
def test_strong_formats_sign_in_and_are_rehashed_with_argon2id(client, db, name):
    raw, fmt, salt = STRONG[name](PASSWORD)
    encoded = legacy_password(raw, hash_format=fmt, salt=salt)
    assert not is_weak_encoded(encoded)
    user = imported_member(encoded)

    assert not is_signed_in(login(client, user.email, "wrong password") and client)
    user.refresh_from_db()
    assert user.password == encoded  # a failed sign-in changes nothing

    response = login(client, user.email, PASSWORD)
    assert response.status_code == 302 and is_signed_in(client)
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert check_password(PASSWORD, user.password)


@pytest.mark.parametrize("name", sorted(WEAK))
def test_weak_formats_never_sign_in(db, name):
    raw, fmt, salt = WEAK[name](PASSWORD)
    encoded = legacy_password(raw, hash_format=fmt, salt=salt)
    assert is_weak_encoded(encoded)
    assert not check_password(PASSWORD, encoded)


@pytest.mark.parametrize(
    ("raw", "fmt", "salt"),
    [
        ("$2b$04$tooshort", "auto", ""),
        ("5f4dcc3b5aa765d61d8327deb882cf99", "auto", ""),  # an MD5 needs its format named
        ("zz4dcc3b5aa765d61d8327deb882cf99", "md5", ""),
        ("5f4dcc3b5aa765d61d8327deb882cf99", "sha256", ""),
        ("$argon2id$v=19$m=65536,t=3,p=4$broken", "auto", ""),
        ("md5$salt$5f4dcc3b5aa765d61d8327deb882cf99", "auto", ""),  # Django's MD5: not accepted
        ("$2b$04$" + "a" * 53, "sha256", ""),
        ("$2b$04$" + "a" * 53, "auto", "salt"),
        ("anything", "crc32", ""),
    ],
)
def test_malformed_or_unknown_hashes_are_refused(db, raw, fmt, salt):
    with pytest.raises(ValueError):
        legacy_password(raw, hash_format=fmt, salt=salt)


def test_bcrypt_passwords_longer_than_72_bytes_match_as_the_old_system_cut_them(db):
    long = "x" * 80
    encoded = legacy_password(bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(4)).decode())
    assert check_password(long, encoded)


def _code_from_mail() -> str:
    body = mail.outbox[-1].body
    match = re.search(r"^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]+)*)\s*$", body, re.MULTILINE)
    assert match, body
    return match.group(1)


def test_weak_hash_member_sets_a_new_password_after_an_emailed_code(client, db):
    raw, fmt, salt = WEAK["md5 salt+password"](PASSWORD)
    user = imported_member(legacy_password(raw, hash_format=fmt, salt=salt))

    # The right old password does not sign in: it sends a code and asks for it.
    response = login(client, user.email, PASSWORD)
    assert response.status_code == 302
    assert response.url == "/accounts/password/renew/confirm/"
    assert not is_signed_in(client)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    page = client.get(response.url)
    assert page.status_code == 200

    response = client.post("/accounts/password/renew/confirm/", {"code": _code_from_mail()})
    assert response.status_code == 302 and response.url == "/accounts/password/renew/complete/"
    response = client.post("/accounts/password/renew/complete/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    assert not is_weak_encoded(user.password)

    client.logout()
    assert not is_signed_in(login(client, user.email, PASSWORD) and client)
    login(client, user.email, NEW_PASSWORD)
    assert is_signed_in(client)


def test_weak_hash_member_with_a_wrong_password_gets_the_usual_error_and_no_mail(client, db):
    raw, fmt, salt = WEAK["md5 unsalted"](PASSWORD)
    user = imported_member(legacy_password(raw, hash_format=fmt, salt=salt))
    response = login(client, user.email, "not the password")
    unknown = login(client, "nobody@example.com", "not the password")
    assert response.status_code == unknown.status_code == 200
    assert response.context["form"].errors == unknown.context["form"].errors
    assert mail.outbox == []
    assert not is_signed_in(client)


def test_wrong_code_does_not_let_anyone_set_the_password(client, db):
    raw, fmt, salt = WEAK["sha1 unsalted"](PASSWORD)
    user = imported_member(legacy_password(raw, hash_format=fmt, salt=salt))
    login(client, user.email, PASSWORD)
    response = client.post("/accounts/password/renew/confirm/", {"code": "WRONG1"})
    assert response.status_code == 200
    assert client.get("/accounts/password/renew/complete/").status_code == 302
    user.refresh_from_db()
    assert is_weak_encoded(user.password)
