"""The one place where claims are assembled for ID tokens and userinfo.

Each app contributes claims for the scopes it owns by registering a provider in its
``AppConfig.ready``::

    from idp.claims import register_claims

    @register_claims("loyalty", claims=["member_number", "tier"])
    def loyalty_claims(user, *, client): ...

A provider returns only the claims it has for that user; missing values are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

ClaimsProvider = Callable[..., dict]


@dataclass(frozen=True)
class _Registration:
    scope: str
    claims: tuple[str, ...]
    provider: ClaimsProvider


_registry: list[_Registration] = []


def register_claims(scope: str, *, claims: Iterable[str]) -> Callable[[ClaimsProvider], ClaimsProvider]:
    def decorator(provider: ClaimsProvider) -> ClaimsProvider:
        _registry.append(_Registration(scope=scope, claims=tuple(claims), provider=provider))
        return provider

    return decorator


def supported_claims() -> list[str]:
    names = {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid"}
    for reg in _registry:
        names.update(reg.claims)
    return sorted(names)


def claims_for(user, *, scopes: Iterable[str], client) -> dict:
    """Claims for ``user`` released under ``scopes`` to ``client`` (``sub`` always)."""
    scope_set = set(scopes)
    result: dict = {"sub": str(user.sub)}
    for reg in _registry:
        if reg.scope in scope_set:
            values = reg.provider(user, client=client)
            result.update({k: v for k, v in values.items() if k in reg.claims and v not in (None, "", {})})
    return result
