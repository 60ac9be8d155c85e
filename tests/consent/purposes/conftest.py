from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from consent.models import Purpose
from consent.purposes import services

TEXTS = {
    "marketing_email": ("Offers by email", "News and offers from our brands by email.", "メールでのお知らせ"),
    "marketing_sms": ("Offers by SMS", "Offers by text message.", "SMSでのお知らせ"),
    "analytics": ("Analytics", "We measure how you use our apps to improve them.", "利用状況の分析"),
    "sharing": ("Sharing with partners", "We share your profile with partner brands.", "パートナーとの共有"),
}


def purpose_make(code: str, *, category="marketing", contact_channel="", texts=True, **fields) -> Purpose:
    purpose = services.purpose_save(
        purpose=Purpose(code=code, category=category, contact_channel=contact_channel, **fields)
    )
    if texts and code in TEXTS:
        name, description, name_ja = TEXTS[code]
        services.purpose_text_add(purpose=purpose, language="en", name=name, description=description)
        services.purpose_text_add(purpose=purpose, language="ja", name=name_ja, description=description + " (ja)")
    return purpose


@pytest.fixture
def purposes(db) -> dict[str, Purpose]:
    return {
        "marketing_email": purpose_make("marketing_email", contact_channel="email", offer_at_signup=True, position=1),
        "marketing_sms": purpose_make("marketing_sms", contact_channel="sms", regions="JP", position=2),
        "analytics": purpose_make("analytics", category="analytics", offer_at_signup=True, position=3),
        "sharing": purpose_make("sharing", category="sharing", position=4),
    }


def token_for(user, client, scope: str, expires_in: int = 300) -> str:
    raw = secrets.token_urlsafe(32)
    get_access_token_model().objects.create(
        user=user, application=client, token=raw, scope=scope, expires=timezone.now() + timedelta(seconds=expires_in)
    )
    return raw
