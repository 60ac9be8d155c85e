"""A member with something in every section of the account page (unit and browser tests share it)."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa import services as mfa_services
from accounts.models import AttributeChoice, AttributeDefinition, WebAuthnCredential
from accounts.profile import services as profile_services
from consent.models import ConsentRecord, Purpose
from consent.purposes import services as consent_services
from idp import services as idp_services
from idp.models import Client
from loyalty import services as loyalty_services
from loyalty.models import Program, Tier
from tests.conftest import make_client


@dataclass
class Populated:
    third_party: Client
    program: Program
    member_number: str
    purpose: Purpose


PROVIDERS = ["google", "line", "facebook", "apple", "google"]


def populate(user, *, passkeys: int = 2, rows: int = 3, second_factors: bool = True) -> Populated:
    """Profile answers, a pending email change, factors, linked accounts, an app with access,
    consents with history, and a loyalty membership with entries (``rows`` of each list).

    ``second_factors=False`` leaves out the authenticator app and passkeys (a browser test that
    signs in with the password alone)."""
    diet = profile_services.attribute_definition_save(
        definition=AttributeDefinition(key="diet", data_type="choice", scope="profile:preferences", label_en="Diet")
    )
    AttributeChoice.objects.create(definition=diet, value="vegan", label_en="Vegan", label_ja="ヴィーガン")
    profile_services.attribute_definition_save(
        definition=AttributeDefinition(key="seat", data_type="text", scope="profile:preferences", label_en="Seat")
    )
    profile_services.profile_attributes_update(user=user, values={"diet": "vegan", "seat": "Aisle"}, source="member")

    EmailAddress.objects.create(user=user, email="pending-new@example.com", verified=False, primary=False)
    if second_factors:
        TOTPDevice.objects.create(user=user, name="Phone app", confirmed=True)
        mfa_services.recovery_codes_generate(user=user)
    for i in range(passkeys if second_factors else 0):
        WebAuthnCredential.objects.create(
            user=user, name=f"Passkey {i}", credential_id=f"cred-{user.pk}-{i}".encode(), public_key=b"pk"
        )
    for i in range(rows):
        SocialAccount.objects.create(
            user=user, provider=PROVIDERS[i % len(PROVIDERS)], uid=f"uid-{i}", extra_data={"email": f"g{i}@x.jp"}
        )

    third_party, _secret = make_client(name="Partner Shop", first_party=False, redirect_uris="https://shop.example/cb")
    idp_services.client_authorization_grant(user=user, client=third_party, scopes={"openid", "email", "profile"})
    for i in range(1, rows):
        other, _ = make_client(name=f"Other App {i}", first_party=False, redirect_uris=f"https://app{i}.example/cb")
        idp_services.client_authorization_grant(user=user, client=other, scopes={"openid", "email"})

    purpose = consent_services.purpose_save(purpose=Purpose(code="marketing_email", category="marketing"))
    consent_services.purpose_text_add(purpose=purpose, language="en", name="Offers by email", description="News.")
    for i in range(1, rows):
        extra = consent_services.purpose_save(purpose=Purpose(code=f"extra_{i}", category="marketing", position=i))
        consent_services.purpose_text_add(purpose=extra, language="en", name=f"Extra {i}", description="More.")
        consent_services.consent_change(user=user, changes={extra.code: True}, channel=ConsentRecord.Channel.WEB)
    consent_services.consent_change(user=user, changes={"marketing_email": True}, channel=ConsentRecord.Channel.WEB)
    consent_services.consent_change(user=user, changes={"marketing_email": False}, channel=ConsentRecord.Channel.WEB)

    program = Program.objects.create(slug="sky", name="Sky Miles")
    Tier.objects.create(program=program, code="blue", name="Blue", min_points=0)
    membership = loyalty_services.membership_join(user=user, program=program)
    partner, _ = make_client(name="Card partner", authorization_grant_type=Client.GRANT_CLIENT_CREDENTIALS)
    for i in range(rows):
        loyalty_services.points_earn(
            program=program,
            client=partner,
            member_number=membership.member_number,
            points=100 * (i + 1),
            idempotency_key=f"earn-{user.pk}-{i}",
            fingerprint=f"fp-{i}",
            description=f"Purchase {i}",
        )
    return Populated(third_party=third_party, program=program, member_number=membership.member_number, purpose=purpose)
