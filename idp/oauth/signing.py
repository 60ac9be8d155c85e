"""ID token signing with the parsed key and the JOSE header kept per process.

django-oauth-toolkit signs each ID token through jwcrypto: it computes the key's thumbprint,
builds a ``JWT`` and a ``JWS`` object and validates the header it has just written, about a third
of an RS256 signature's cost on top of the RSA operation itself (docs/benchmarks.md). For RS256
the compact serialisation (RFC 7515 §7.1) is three base64url parts; this module builds it from
the same header (``typ``, ``alg``, ``kid``) and the same JSON DOT would sign, with the
``cryptography`` private key jwcrypto already holds. HS256 clients keep DOT's path.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from oauth2_provider.models import AbstractApplication
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@lru_cache(maxsize=8)
def _rs256_signer(pem: str):
    """(cryptography private key, encoded protected header) for this PEM; parsed once per process."""
    key = jwk_from_pem(pem)
    header = json.dumps({"typ": "JWT", "alg": "RS256", "kid": key.thumbprint()})
    return key.get_op_key("sign"), _b64(header.encode())


def sign_id_token(claims: dict, client) -> str | None:
    """The signed ID token for an RS256 client, or ``None`` when the caller must use DOT's path."""
    if client.algorithm != AbstractApplication.RS256_ALGORITHM or not oauth2_settings.OIDC_RSA_PRIVATE_KEY:
        return None
    private_key, header = _rs256_signer(oauth2_settings.OIDC_RSA_PRIVATE_KEY)
    signing_input = header + b"." + _b64(json.dumps(claims, default=str).encode())
    signature = private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return (signing_input + b"." + _b64(signature)).decode("ascii")
