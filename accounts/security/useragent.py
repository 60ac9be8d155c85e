"""A readable device name from a User-Agent header ("Chrome on Windows").

Deliberately small: the names are for the member to recognise their own devices, not for
decisions. Order matters, as most browsers claim to be several others.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

_BROWSERS = [
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/")),
    ("LINE", re.compile(r"\bLine/")),
    ("Opera", re.compile(r"\b(OPR|Opera)/")),
    ("Firefox", re.compile(r"\b(Firefox|FxiOS)/")),
    ("Chrome", re.compile(r"\b(Chrome|CriOS)/")),
    ("Safari", re.compile(r"\bVersion/[\d.]+.*\bSafari/")),
]
_SYSTEMS = [
    ("iPadOS", re.compile(r"\biPad\b")),
    ("iOS", re.compile(r"\b(iPhone|iPod)\b")),
    ("Android", re.compile(r"\bAndroid\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b")),
]


def _first(table, ua: str) -> str | None:
    return next((name for name, pattern in table if pattern.search(ua)), None)


def describe_device(ua: str) -> str:
    """ "Firefox on Linux", "Safari on iOS", "Android device", or "Unknown device"."""
    browser, system = _first(_BROWSERS, ua or ""), _first(_SYSTEMS, ua or "")
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    if browser:
        return browser
    if system:
        return _("%(system)s device") % {"system": system}
    return _("Unknown device")
