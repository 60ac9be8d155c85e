from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    """Argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1): about 20 ms a check.

    Django's default (m=100 MiB, p=8) costs several times that on a two-core machine and
    caps password logins far below what the hash alone would allow.
    """

    algorithm = "argon2"
    time_cost = 2
    memory_cost = 19 * 1024
    parallelism = 1
