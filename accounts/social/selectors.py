"""Reads for social login: which account an upstream email belongs to, linked accounts, a pending link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.contrib.auth import get_user_model
from django.core.exceptions import MultipleObjectsReturned
from django.http import HttpRequest
from django.utils import timezone

if TYPE_CHECKING:
    from allauth.socialaccount.models import SocialLogin

    from accounts.models import User

PENDING_LINK_SESSION_KEY = "social_link_pending"
PENDING_LINK_SECONDS = 600


@dataclass(frozen=True)
class EmailMatch:
    user: User
    email: str
    #: The upstream says the address was verified (OIDC ``email_verified`` or the provider's rule).
    upstream_verified: bool
    #: The address is verified on the existing account here.
    verified_here: bool


@dataclass(frozen=True)
class LinkedAccount:
    account: SocialAccount
    provider_name: str
    label: str
    can_unlink: bool


def user_with_email(email: str) -> User | None:
    """The account that owns ``email`` (its login email or one of its addresses), any case."""
    email = email.strip()
    if not email:
        return None
    user = get_user_model().objects.filter(email__iexact=email).first()
    if user is not None:
        return user
    address = EmailAddress.objects.filter(email__iexact=email).select_related("user").first()
    return address.user if address else None


def existing_account_for(sociallogin: SocialLogin) -> EmailMatch | None:
    """The existing account one of the upstream's addresses belongs to; verified addresses first."""
    addresses = sorted(sociallogin.email_addresses, key=lambda a: not a.verified)
    for address in addresses:
        user = user_with_email(address.email or "")
        if user is not None:
            verified_here = EmailAddress.objects.filter(user=user, email__iexact=address.email, verified=True).exists()
            return EmailMatch(
                user=user,
                email=address.email,
                upstream_verified=bool(address.verified),
                verified_here=verified_here,
            )
    return None


def can_unlink(*, user: User, account: SocialAccount) -> bool:
    """Never remove the last way in: a password, a passkey or another linked account must remain."""
    if user.has_usable_password():
        return True
    if user.webauthn_credentials.exists():
        return True
    return SocialAccount.objects.filter(user=user).exclude(pk=account.pk).exists()


def provider_name(account: SocialAccount) -> str:
    try:
        return account.get_provider().name
    except (SocialApp.DoesNotExist, MultipleObjectsReturned):  # the upstream was removed from the config
        return account.provider


def provider_names(request: HttpRequest | None) -> dict[str, str]:
    """``{provider id: name}`` of every configured provider, in one query (the account page's card)."""
    from allauth.socialaccount.adapter import get_adapter

    return {provider.id: provider.name for provider in get_adapter().list_providers(request)}


def account_label(account: SocialAccount) -> str:
    """What the member recognises the upstream account by: its email, else its name."""
    data = account.extra_data or {}
    for source in (data.get("userinfo"), data.get("id_token"), data):
        if isinstance(source, dict):
            for key in ("email", "name", "displayName"):
                if isinstance(source.get(key), str) and source[key]:
                    return source[key]
    return ""


def linked_accounts_for(user: User) -> list[LinkedAccount]:
    accounts = list(SocialAccount.objects.filter(user=user).order_by("date_joined", "pk"))
    return [
        LinkedAccount(
            account=account,
            provider_name=provider_name(account),
            label=account_label(account),
            can_unlink=can_unlink(user=user, account=account),
        )
        for account in accounts
    ]


def pending_link(request: HttpRequest) -> dict | None:
    """The social login waiting for its owner to prove the existing account is theirs, if fresh."""
    pending = request.session.get(PENDING_LINK_SESSION_KEY)
    if not isinstance(pending, dict):
        return None
    if timezone.now().timestamp() - pending.get("started", 0) > PENDING_LINK_SECONDS:
        return None
    return pending


def pending_link_user(pending: dict) -> User | None:
    return get_user_model().objects.filter(pk=pending.get("user_id"), is_active=True).first()
