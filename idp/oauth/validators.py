"""Our OAuth2/OIDC request validator on top of django-oauth-toolkit's."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from idp import claims as claims_registry
from idp import services
from idp.models import CodeIssuance
from idp.oauth import signing, statements
from idp.oauth.clients import client_get

log = logging.getLogger(__name__)
AccessToken = get_access_token_model()
Grant = get_grant_model()
IDToken = get_id_token_model()
RefreshToken = get_refresh_token_model()


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class Validator(OAuth2Validator):
    # Claims are filtered by scope in idp.claims, not by DOT's fixed table.
    oidc_claim_scope = None

    # --- clients ---------------------------------------------------------------------------------
    def _load_application(self, client_id, request):
        """DOT reuses ``request.client`` when it matches; fill it from the per-process cache."""
        if request.client is None or getattr(request.client, "client_id", None) != client_id:
            request.client = client_get(client_id)
        return super()._load_application(client_id, request)

    def _get_client_by_audience(self, audience):
        for client_id in [audience] if isinstance(audience, str) else audience:
            client = client_get(client_id)
            if client is not None:
                return client
        return None

    # --- client authentication ------------------------------------------------------------------
    def authenticate_client(self, request, *args, **kwargs):
        ok = super().authenticate_client(request, *args, **kwargs)
        if ok and request.client is not None and request.client.client_type == "public":
            # A public client has no secret; it may not pretend to authenticate with one
            # for grants that need client authentication (client credentials).
            return request.grant_type not in ("client_credentials",)
        return ok

    # --- authorization codes ----------------------------------------------------------------------
    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        with transaction.atomic():
            super().save_authorization_code(client_id, code, request, *args, **kwargs)
            CodeIssuance.objects.create(
                code_hash=code_hash(code["code"]),
                client=request.client,
                user=request.user,
                auth_time=datetime.fromtimestamp(request.auth_time, tz=UTC),
                acr=request.acr,
                amr=request.amr,
                sid=getattr(request, "sid", "") or "",
            )

    # DOT reads the code's Grant row once per question (scopes, redirect URI, challenge, method,
    # nonce, validity): five queries per exchange. One read per token request answers them all.
    def _grant(self, request, code: str):
        memo = getattr(request, "_idp_grant", None)
        if memo is None or memo[0] != code:
            memo = (code, Grant.objects.select_related("user").filter(code=code).first())
            request._idp_grant = memo
        return memo[1]

    def _client_grant(self, request, code: str, client):
        grant = self._grant(request, code)
        return grant if grant is not None and client is not None and grant.application_id == client.pk else None

    def get_authorization_code_scopes(self, client_id, code, redirect_uri, request):
        grant = self._grant(request, code)
        return grant.scope.split() if grant is not None and grant.scope else []

    def get_authorization_code_nonce(self, client_id, code, redirect_uri, request):
        grant = self._grant(request, code)
        return (grant.nonce or None) if grant is not None else None

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request=None, *args, **kwargs):
        if request is None:
            return super().confirm_redirect_uri(client_id, code, redirect_uri, client, *args, **kwargs)
        grant = self._client_grant(request, code, client)
        return grant is not None and grant.redirect_uri_allowed(redirect_uri)

    def get_code_challenge_method(self, code, request):
        grant = self._client_grant(request, code, request.client)
        return (grant.code_challenge_method or None) if grant is not None else None

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        issuance = CodeIssuance.objects.filter(code_hash=code_hash(code), client=client).first()
        if issuance is not None and issuance.redeemed_at is not None:
            # RFC 6749 §4.1.2: a code used twice revokes what was issued from it.
            services.code_replay_revoke(issuance=issuance)
            return False
        grant = self._client_grant(request, code, client)
        if grant is None or grant.is_expired():
            return False
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        if issuance is None:
            return False
        request.code_issuance = issuance
        self._set_auth_context(request, issuance)
        return True

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        """DOT's rule (the code's row is deleted, or ``invalid_grant``) in one ``DELETE``.

        ``QuerySet.delete()`` wraps even a delete without cascades or signals in a transaction
        (``BEGIN``, ``DELETE``, ``COMMIT``); nothing refers to a grant row and nothing listens to
        its deletion, so the collector has nothing to do.
        """
        grants = Grant.objects.filter(code=code, application=request.client)
        if not grants._raw_delete(grants.db):
            raise errors.InvalidGrantError(request=request)

    def _set_auth_context(self, request, issuance: CodeIssuance) -> None:
        request.auth_time = int(issuance.auth_time.timestamp())
        request.acr = issuance.acr
        request.amr = issuance.amr
        request.sid = issuance.sid

    def get_code_challenge(self, code, request):
        grant = self._client_grant(request, code, request.client)
        challenge = (grant.code_challenge or None) if grant is not None else None
        if challenge is None and request.code_verifier is not None:
            # RFC 9700 §4.8.2 (PKCE downgrade): a code_verifier for a code that was issued
            # without a code_challenge is refused.
            raise errors.InvalidGrantError(
                description="code_verifier sent for a code issued without code_challenge.", request=request
            )
        return challenge

    # --- tokens -------------------------------------------------------------------------------
    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        rt = super()._create_refresh_token(request, refresh_token_code, access_token, previous_refresh_token)
        request.issued_refresh_token = rt
        return rt

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        saved_id_token = getattr(request, "id_token", None)
        if token.get("id_token") and isinstance(saved_id_token, IDToken) and saved_id_token.pk:
            # DOT would parse and RSA-verify the ID token it has just signed and read the client
            # and the IDToken row back by jti; finalize_id_token left that row on the request.
            at = AccessToken(
                user=request.user,
                scope=token["scope"],
                expires=expires,
                id_token=saved_id_token,
                application=request.client,
                source_refresh_token=source_refresh_token,
                resource=getattr(request, "resource", []),
            )
            self._set_token_value(at, token["access_token"])
            at.save(force_insert=True)
        else:
            at = super()._create_access_token(expires, request, token, source_refresh_token)
        request.issued_access_token = at
        return at

    def _rotation_applies(self, token, request) -> bool:
        return (
            request.grant_type == "refresh_token"
            and bool(token.get("refresh_token"))
            and isinstance(getattr(request, "refresh_token_instance", None), RefreshToken)
            and self.rotate_refresh_token(request)
            and oauth2_settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS == 0
        )

    def _rotate_refresh_token(self, token, request) -> None:
        """RFC 9700 §4.14.2 rotation in one conditional UPDATE, one DELETE and two INSERTs.

        DOT's generic path (which also serves reuse within a grace period) locks and reads the old
        refresh token and its access token twice and deletes through Django's collector: 16
        statements. With no grace period the old token is simply revoked if, and only if, nobody
        has revoked it yet; the loser of two concurrent rotations gets ``invalid_grant`` instead
        of a second, forked token pair.
        """
        if "scope" not in token:
            raise errors.FatalClientError("Failed to renew access token: missing scope")
        self._check_and_set_request_resource(request)
        now = timezone.now()
        expires = now + timedelta(seconds=token.get("expires_in", oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS))
        old = request.refresh_token_instance
        if statements.enabled():
            self._rotate_in_one_statement(token, request, old, now, expires)
            return
        revoked = RefreshToken.objects.filter(pk=old.pk, revoked__isnull=True).update(
            revoked=now, access_token=None, updated=now
        )
        if not revoked:
            raise errors.InvalidGrantError(description="The refresh token has already been used.", request=request)
        if old.access_token_id:
            # The refresh token's link to it is gone (above) and nothing else refers to an access
            # token, so Django's collector (UPDATE ... SET NULL, then DELETE) is not needed.
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {AccessToken._meta.db_table} WHERE id = %s", [old.access_token_id])
        old.revoked, old.access_token = now, None
        access_token = self._create_access_token(expires, request, token, source_refresh_token=old)
        self._create_refresh_token(request, token["refresh_token"], access_token, old)
        request.refresh_token_instance = None

    def _rotate_in_one_statement(self, token, request, old, now, expires) -> None:
        """PostgreSQL: the same rotation, and the ID token row, in one statement (idp.oauth.statements)."""
        pending = getattr(request, "pending_id_token", None)
        ids = statements.rotate(
            old=old,
            user_id=request.user.pk,
            client_id=request.client.pk,
            access_token=token["access_token"],
            refresh_token=token["refresh_token"],
            scope=token["scope"],
            expires=expires,
            resource=getattr(request, "resource", []),
            now=now,
            id_token=pending if token.get("id_token") else None,
        )
        if ids is None:
            raise errors.InvalidGrantError(description="The refresh token has already been used.", request=request)
        old.revoked, old.access_token = now, None
        request.refresh_token_instance = None

    def save_bearer_token(self, token, request, *args, **kwargs):
        """A client-credentials grant writes one row, a rotation on PostgreSQL one statement: neither
        needs a transaction around it (``BEGIN`` and ``COMMIT`` are two more round trips)."""
        if request.grant_type == "client_credentials" and "refresh_token" not in token:
            if statements.enabled():
                return self._save_client_token(token, request)
            return self._save_bearer_token(token, request, *args, **kwargs)
        if (
            statements.enabled()
            and getattr(request, "code_issuance", None) is None
            and self._rotation_applies(token, request)
        ):
            return self._save_bearer_token(token, request, *args, **kwargs)
        return super().save_bearer_token(token, request, *args, **kwargs)

    def _save_client_token(self, token, request) -> None:
        """DOT's ``_save_bearer_token`` for a client-credentials grant, as one precompiled ``INSERT``."""
        if "scope" not in token:
            raise errors.FatalClientError("Failed to renew access token: missing scope")
        self._check_and_set_request_resource(request)
        now = timezone.now()
        request.user = None
        statements.insert_access_token(
            client_id=request.client.pk,
            access_token=token["access_token"],
            scope=token["scope"],
            expires=now + timedelta(seconds=token.get("expires_in", oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)),
            resource=getattr(request, "resource", []),
            now=now,
        )

    def _save_bearer_token(self, token, request, *args, **kwargs):
        """Runs inside DOT's transaction, so a code's redemption is recorded with its tokens."""
        if self._rotation_applies(token, request):
            self._rotate_refresh_token(token, request)
        else:
            super()._save_bearer_token(token, request, *args, **kwargs)
        issuance = getattr(request, "code_issuance", None)
        if issuance is not None:
            rt = getattr(request, "issued_refresh_token", None)
            at = getattr(request, "issued_access_token", None)
            updated = CodeIssuance.objects.filter(pk=issuance.pk, redeemed_at__isnull=True).update(
                redeemed_at=timezone.now(),
                token_family=rt.token_family if rt else None,
                access_token_id=at.pk if at else None,
            )
            if not updated:  # a concurrent redemption of the same code won: roll these tokens back
                raise errors.InvalidGrantError(description="The code has already been used.", request=request)

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        if statements.enabled():
            found = statements.read(refresh_token)
            if found is None:
                return False
            ok = self._validate_refresh_token(refresh_token, client, request, found=found[0])
            if ok and found[1] is not None:
                self._set_auth_context(request, found[1])
            return ok
        ok = self._validate_refresh_token(refresh_token, client, request)
        if ok:
            family = request.refresh_token_instance.token_family
            issuance = CodeIssuance.objects.filter(token_family=family).first() if family else None
            if issuance is not None:
                self._set_auth_context(request, issuance)
        return ok

    def _validate_refresh_token(self, refresh_token: str, client, request, found=None) -> bool:
        """DOT 3.4's ``validate_refresh_token`` with the user and the client read in the same query.

        DOT's version loads ``rt.user`` and ``rt.application`` lazily: two more queries on every
        refresh. The rules are DOT's, step by step (reuse within the grace period, family
        revocation on reuse, RFC 7009 revocation is final, sliding expiry); the refresh tests in
        tests/idp prove each of them.
        """
        rt = found
        if rt is None:
            checksum = hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()
            rt = (
                RefreshToken.objects.filter(token_checksum=checksum)
                .select_related("access_token", "user")
                .order_by(F("revoked").desc(nulls_first=True))
                .first()
            )
        if rt is None:
            return False
        if rt.revoked is not None:
            grace_expired = rt.revoked <= timezone.now() - timedelta(
                seconds=oauth2_settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS
            )
            superseded = AccessToken.objects.filter(source_refresh_token=rt).exists()
            if grace_expired or not superseded:
                if oauth2_settings.REFRESH_TOKEN_REUSE_PROTECTION and rt.token_family:
                    RefreshToken.revoke_family(rt.token_family)
                return False
        if rt.revoked is None:
            if rt.access_token is None:
                return False
            expire_delta = refresh_token_expire_timedelta()
            if expire_delta and rt.access_token.expires + expire_delta <= timezone.now():
                return False
        if client is None or rt.application_id != client.pk:
            return False
        rt.application = client
        request.user = rt.user
        request.refresh_token = refresh_token
        request.refresh_token_instance = rt
        return True

    def refresh_id_token(self, request) -> bool:
        return "openid" in (request.scopes or [])

    # --- claims -------------------------------------------------------------------------------
    def get_claim_dict(self, request):
        return claims_registry.claims_for(request.user, scopes=request.scopes, client=request.client)

    def get_discovery_claims(self, request):
        return claims_registry.supported_claims()

    def get_oidc_claims(self, token, token_handler, request):
        return self.get_claim_dict(request)

    def get_id_token_dictionary(self, token, token_handler, request):
        """DOT's claims (the scope's claims, ``iss``, ``exp``, ``auth_time``, ``jti``), without its
        date formatting, and the login's ``auth_time``/``acr``/``amr``/``sid`` from the code."""
        claims = self.get_oidc_claims(token, token_handler, request)
        now = timezone.now()
        expiration_time = now + timedelta(seconds=oauth2_settings.ID_TOKEN_EXPIRE_SECONDS)
        claims["iss"] = self.get_oidc_issuer_endpoint(request)
        claims["exp"] = int(expiration_time.timestamp())
        auth_time = getattr(request, "auth_time", None)
        if auth_time is not None:
            claims["auth_time"] = auth_time
            claims["acr"] = request.acr
            claims["amr"] = request.amr
            if request.sid:
                claims["sid"] = request.sid
        else:  # DOT's rule: the last login, or now
            last_login = request.user.last_login or now
            if timezone.is_naive(last_login):
                last_login = last_login.replace(tzinfo=UTC)
            claims["auth_time"] = int(last_login.timestamp())
        claims["jti"] = str(uuid.uuid4())
        return claims, expiration_time

    def finalize_id_token(self, id_token, token, token_handler, request):
        """DOT's ``finalize_id_token``: same claims and header, signed once with the cached key.

        The ID token row is written without a transaction of its own (it is one ``INSERT``), or, on
        a refresh grant on PostgreSQL, by the rotation's single statement (``pending_id_token``).
        """
        claims, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:  # oauthlib bug #746, as in DOT
            id_token["nonce"] = request.nonce
        signed = signing.sign_id_token(id_token, request.client)
        if signed is None:
            return super().finalize_id_token(id_token, token, token_handler, request)
        if self._rotation_applies(token, request) and statements.enabled():
            scope = request.scope or " ".join(request.scopes)
            request.pending_id_token = (id_token["jti"], expiration_time, scope)
            return signed
        row = self._save_id_token(id_token["jti"], request, expiration_time)
        request.access_token = request.id_token = row  # as DOT leaves them
        return signed

    # --- prompt=none is decided by the authorization view, which knows the session ------------
    def validate_silent_authorization(self, request):
        return True

    def validate_silent_login(self, request):
        return True

    def validate_user_match(self, id_token_hint, scopes, claims, request):
        # id_token_hint is accepted (OIDC Core §3.1.2.1); the view compares its subject with
        # the signed-in user when prompt=none.
        return True
