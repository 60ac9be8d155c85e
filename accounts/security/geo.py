"""Where a request comes from: the client IP as the rate limits see it, and an approximate place.

No GeoIP database ships with the project. The place is read from a header that the proxy or
CDN in front of us sets (Cloudflare's ``CF-IPCountry``/``CF-IPCity`` by default, see
``ACCOUNTS_GEO_COUNTRY_HEADER``); loopback and private addresses are shown as the local
network. The place is for the member's eyes only: no decision is made on it.
"""

from __future__ import annotations

import ipaddress

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.security.app_settings import security_settings

USER_AGENT_MAX = 300
IPV6_PREFIX = 64  # as allauth's rate limits: one /64 is one source


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP, as allauth's rate limits determine it (trusted proxy settings apply)."""
    from allauth.account.adapter import get_adapter

    try:
        ip = get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return None
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return None
    return ip


def source_of(ip: str | None) -> str | None:
    """The rate-limiting source of an IP: the address itself, or its /64 for IPv6."""
    if not ip:
        return None
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network(f"{addr}/{IPV6_PREFIX}", strict=False).network_address)
    return ip


def user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX]


def _header(request: HttpRequest, name: str) -> str:
    if not name:
        return ""
    value = request.headers.get(name, "").strip()
    # Only short printable values: a header is data from outside.
    if not value or len(value) > 60 or not value.isprintable():
        return ""
    return value


def approximate_location(request: HttpRequest, ip: str | None = None) -> str:
    """A short place name for display ("Osaka, JP", "JP", "Local network"), or ""."""
    ip = ip if ip is not None else client_ip(request)
    country = _header(request, security_settings.GEO_COUNTRY_HEADER).upper()
    if country in {"XX", "T1"}:  # Cloudflare: unknown, Tor
        country = ""
    city = _header(request, security_settings.GEO_CITY_HEADER)
    if country:
        return f"{city}, {country}" if city else country
    if ip:
        addr = ipaddress.ip_address(ip)
        if addr.is_loopback or addr.is_private or addr.is_link_local:
            return _("Local network")
    return ""
