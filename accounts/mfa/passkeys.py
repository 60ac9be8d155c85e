"""WebAuthn ceremonies with py_webauthn: options, the challenge kept in the session, verification.

The challenge of each ceremony lives in the session under its purpose, is popped before the
response is checked (single use, so a replayed response finds none) and expires after
``ACCOUNTS_WEBAUTHN_CHALLENGE_SECONDS``. The RP ID and the origin come from the request's
host (validated by ``ALLOWED_HOSTS``) unless ``ACCOUNTS_WEBAUTHN_RP_ID`` /
``ACCOUNTS_WEBAUTHN_ORIGINS`` say otherwise.

Persisting what a ceremony proved is left to :mod:`accounts.mfa.services`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_authentication_credential_json
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts.mfa import selectors
from accounts.mfa.app_settings import mfa_settings
from accounts.models import WebAuthnCredential

SESSION_PREFIX = "accounts_mfa_webauthn:"

# Ceremony purposes: a challenge issued for one is never accepted for another.
REGISTER = "register"  # account page and enrolment during a login
SIGNUP = "signup"  # a new account with a passkey and no password
LOGIN = "login"  # passwordless sign-in (discoverable credential, user verification)
SECOND_FACTOR = "second_factor"  # second step of a login, step-up, re-authentication

ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
_TRANSPORTS = {t.value for t in AuthenticatorTransport}

MESSAGES = {
    "challenge": _("This passkey request has expired or was already used. Please try again."),
    "malformed": _("The passkey response could not be read. Please try again."),
    "unknown": _("This passkey is not registered for this account."),
    "flagged": _(
        "This passkey has been blocked because it may have been copied. "
        "Sign in another way and remove it from your account."
    ),
    "counter": _(
        "This passkey was refused because its signature counter went backwards, a sign that it "
        "may have been copied. It has been blocked."
    ),
    "invalid": _("The passkey response could not be verified. Please try again."),
    "registration": _("The passkey could not be registered. Please try again."),
}


class PasskeyError(Exception):
    """A refused WebAuthn response. ``code`` is stable; ``message`` is for the member."""

    def __init__(self, code: str, detail: str = "", *, credential: WebAuthnCredential | None = None):
        super().__init__(detail or code)
        self.code = code
        self.detail = detail
        self.credential = credential

    @property
    def message(self):
        return MESSAGES.get(self.code, MESSAGES["invalid"])


@dataclass(frozen=True)
class Registration:
    """What a verified registration proved, in the shape of ``services.passkey_add``."""

    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    transports: list[str]
    discoverable: bool
    backup_eligible: bool
    backup_state: bool

    def as_kwargs(self) -> dict:
        return dict(self.__dict__)


# --- relying party ---------------------------------------------------------------------------------
def rp_id(request: HttpRequest) -> str:
    if mfa_settings.WEBAUTHN_RP_ID:
        return mfa_settings.WEBAUTHN_RP_ID
    host = request.get_host()
    if host.startswith("["):  # [::1]:8000 (browsers refuse IP addresses as RP IDs anyway)
        return host[1 : host.index("]")]
    return host.rsplit(":", 1)[0] if ":" in host else host


def expected_origins(request: HttpRequest) -> list[str]:
    return mfa_settings.WEBAUTHN_ORIGINS or [f"{request.scheme}://{request.get_host()}"]


def user_handle(user) -> bytes:
    """The WebAuthn user.id: the member's random subject identifier, never the email."""
    return user.sub.bytes


# --- session state ------------------------------------------------------------------------------------
def _state_put(request: HttpRequest, purpose: str, challenge: bytes, **data) -> None:
    request.session[SESSION_PREFIX + purpose] = {
        "challenge": bytes_to_base64url(challenge),
        "expires": time.time() + mfa_settings.WEBAUTHN_CHALLENGE_SECONDS,
        **data,
    }


def state_peek(request: HttpRequest, purpose: str) -> dict | None:
    return request.session.get(SESSION_PREFIX + purpose)


def _state_pop(request: HttpRequest, purpose: str) -> dict | None:
    """The pending ceremony of this purpose, removed from the session (None: none or expired)."""
    state = request.session.pop(SESSION_PREFIX + purpose, None)
    if not isinstance(state, dict) or state.get("expires", 0) < time.time():
        return None
    return state


def _options_dict(options) -> dict:
    return json.loads(options_to_json(options))


def _descriptor(credential: WebAuthnCredential) -> PublicKeyCredentialDescriptor:
    transports = [AuthenticatorTransport(t) for t in credential.transports or [] if t in _TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=bytes(credential.credential_id), transports=transports or None)


# --- registration ----------------------------------------------------------------------------------
def registration_options(
    request: HttpRequest,
    *,
    purpose: str,
    handle: bytes,
    user_name: str,
    display_name: str,
    exclude: list[WebAuthnCredential] | tuple = (),
    **state,
) -> dict:
    """Creation options for a discoverable, user-verifying credential (a passkey)."""
    options = generate_registration_options(
        rp_id=rp_id(request),
        rp_name=str(mfa_settings.WEBAUTHN_RP_NAME),
        user_name=user_name,
        user_id=handle,
        user_display_name=display_name or user_name,
        timeout=mfa_settings.WEBAUTHN_TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(c) for c in exclude],
        supported_pub_key_algs=ALGORITHMS,
    )
    _state_put(request, purpose, options.challenge, handle=bytes_to_base64url(handle), **state)
    data = _options_dict(options)
    data["extensions"] = {"credProps": True}
    return data


def verify_registration(request: HttpRequest, *, purpose: str, credential: str) -> tuple[Registration, dict]:
    """Check a navigator.credentials.create() response against the pending challenge."""
    state = _state_pop(request, purpose)
    if state is None:
        raise PasskeyError("challenge", "no pending challenge")
    try:
        raw = json.loads(credential)
        if not isinstance(raw, dict):
            raise ValueError("not an object")
    except ValueError as error:
        raise PasskeyError("malformed", str(error)) from error
    try:
        verified = verify_registration_response(
            credential=raw,
            expected_challenge=base64url_to_bytes(state["challenge"]),
            expected_rp_id=rp_id(request),
            expected_origin=expected_origins(request),
            require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except Exception as error:  # noqa: BLE001 - py_webauthn raises several types for bad input
        raise PasskeyError("registration", f"{type(error).__name__}: {error}") from error
    response = raw.get("response") or {}
    transports = [t for t in response.get("transports") or [] if isinstance(t, str) and t in _TRANSPORTS]
    extensions = raw.get("clientExtensionResults") or {}
    cred_props = extensions.get("credProps") if isinstance(extensions, dict) else None
    discoverable = cred_props.get("rk", True) if isinstance(cred_props, dict) else True
    registration = Registration(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=str(verified.aaguid or ""),
        transports=transports,
        discoverable=bool(discoverable),
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backup_state=bool(verified.credential_backed_up),
    )
    return registration, state


# --- authentication --------------------------------------------------------------------------------
def authentication_options(request: HttpRequest, *, purpose: str, user=None) -> dict:
    """Request options. Without a user: any discoverable credential, user verification required."""
    allow = list(selectors.factors_for(user).usable_passkeys) if user is not None else []
    uv = UserVerificationRequirement.REQUIRED if user is None else UserVerificationRequirement.PREFERRED
    options = generate_authentication_options(
        rp_id=rp_id(request),
        timeout=mfa_settings.WEBAUTHN_TIMEOUT_MS,
        allow_credentials=[_descriptor(c) for c in allow],
        user_verification=uv,
    )
    _state_put(request, purpose, options.challenge, user=user.pk if user is not None else None)
    return _options_dict(options)


def verify_authentication(request: HttpRequest, *, purpose: str, credential: str, user=None):
    """Check a navigator.credentials.get() response; returns (credential row, VerifiedAuthentication).

    ``user`` None means passwordless: the credential names the account, user verification is
    required and the returned user handle must be the account's.
    """
    state = _state_pop(request, purpose)
    try:
        parsed = parse_authentication_credential_json(credential)
    except Exception as error:  # noqa: BLE001
        raise PasskeyError("malformed", f"{type(error).__name__}: {error}") from error
    row = selectors.passkey_for_credential_id(bytes(parsed.raw_id))
    if state is None:
        raise PasskeyError("challenge", "no pending challenge", credential=row)
    if row is None:
        raise PasskeyError("unknown", "credential not registered")
    expected_user = state.get("user")
    if (user is not None and row.user_id != user.pk) or (expected_user is not None and row.user_id != expected_user):
        raise PasskeyError("unknown", "credential of another account", credential=row)
    if (
        user is None
        and parsed.response.user_handle is not None
        and parsed.response.user_handle != user_handle(row.user)
    ):
        raise PasskeyError("invalid", "user handle does not match the credential", credential=row)
    if row.flagged_at is not None:
        raise PasskeyError("flagged", "credential flagged", credential=row)
    if not row.user.is_active:
        raise PasskeyError("unknown", "inactive account", credential=row)
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=base64url_to_bytes(state["challenge"]),
            expected_rp_id=rp_id(request),
            expected_origin=expected_origins(request),
            credential_public_key=bytes(row.public_key),
            # The counter is compared by services.passkey_assertion_accept, after the signature
            # is known to be good, so that a forged response cannot get a credential flagged.
            credential_current_sign_count=0,
            require_user_verification=user is None,
        )
    except Exception as error:  # noqa: BLE001
        raise PasskeyError("invalid", f"{type(error).__name__}: {error}", credential=row) from error
    return row, verified
