"""Scopes: the registry that DOT's settings read, and per-client allowed scopes."""

from __future__ import annotations

from oauth2_provider.scopes import BaseScopes
from oauth2_provider.settings import oauth2_settings


def register_scope(name: str, description) -> None:
    """Apps add their own scopes (``loyalty``, ``consents``, …) here in ``ready()``."""
    oauth2_settings.SCOPES[name] = description


class ScopesBackend(BaseScopes):
    def get_all_scopes(self) -> dict:
        return dict(oauth2_settings.SCOPES)

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        scopes = set(oauth2_settings.SCOPES)
        if application is not None and application.allowed_scope_set:
            scopes &= application.allowed_scope_set
        return sorted(scopes)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return ["openid"]
