"""Standard OpenID Connect claims (OIDC Core §5.4) from the account."""

from __future__ import annotations

from allauth.account.models import EmailAddress

from idp.claims import register_claims


@register_claims(
    "profile",
    claims=["name", "given_name", "family_name", "nickname", "locale", "zoneinfo", "updated_at"],
)
def profile_claims(user, *, client) -> dict:
    return {
        "name": user.get_full_name(),
        "given_name": user.given_name,
        "family_name": user.family_name,
        "nickname": user.nickname,
        "locale": user.locale,
        "zoneinfo": user.zoneinfo,
        "updated_at": int(user.updated_at.timestamp()) if user.updated_at else None,
    }


#: Attribute a caller that has read ``email_verified`` together with the user sets on it, so that
#: the claim costs no query of its own (``idp.oauth.statements`` on every refresh grant).
EMAIL_VERIFIED_KNOWN = "email_verified_known"


@register_claims("email", claims=["email", "email_verified"])
def email_claims(user, *, client) -> dict:
    verified = getattr(user, EMAIL_VERIFIED_KNOWN, None)
    if verified is None:
        verified = EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()
    return {"email": user.email, "email_verified": verified}


@register_claims("phone", claims=["phone_number", "phone_number_verified"])
def phone_claims(user, *, client) -> dict:
    if not user.phone_number:
        return {}
    return {"phone_number": user.phone_number, "phone_number_verified": user.phone_number_verified}


@register_claims("address", claims=["address"])
def address_claims(user, *, client) -> dict:
    return {"address": user.address or None}
