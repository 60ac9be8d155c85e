"""Member numbers: fixed length, random, with a Luhn check digit (ISO/IEC 7812-1).

The check digit catches every single-digit typo and most adjacent transpositions, so a
mistyped number is refused as malformed instead of landing on someone else's account.
"""

from __future__ import annotations

import secrets

from loyalty.models import MEMBER_NUMBER_LENGTH


def luhn_check_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # every second digit from the right, starting next to the check digit
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def is_valid_member_number(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) == MEMBER_NUMBER_LENGTH
        and value.isascii()
        and value.isdigit()
        and value[0] != "0"
        and luhn_check_digit(value[:-1]) == value[-1]
    )


def new_member_number() -> str:
    """A random number that does not start with 0 (so it survives spreadsheets), plus its check digit."""
    payload = str(secrets.randbelow(9) + 1) + "".join(
        str(secrets.randbelow(10)) for _ in range(MEMBER_NUMBER_LENGTH - 2)
    )
    return payload + luhn_check_digit(payload)
