from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class RepetitivePasswordValidator:
    """Refuse passwords made of one short repeated pattern or a keyboard run ("aaaaaaaaaa", "abcabc")."""

    RUNS = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zxcvbnm")

    def validate(self, password: str, user=None) -> None:
        lowered = password.lower()
        for size in range(1, 4):
            unit = lowered[:size]
            if unit and (unit * (len(lowered) // size + 1)).startswith(lowered):
                raise ValidationError(_("This password is a repeated pattern."), code="password_repetitive")
        for run in self.RUNS:
            if len(lowered) >= 6 and (lowered in run or lowered in run[::-1]):
                raise ValidationError(_("This password is a keyboard sequence."), code="password_sequence")

    def get_help_text(self) -> str:
        return _("Your password can't be a repeated pattern or a keyboard sequence.")
