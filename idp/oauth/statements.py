"""Hand-written PostgreSQL statements of the token endpoint's hot paths.

A refresh grant used to cost 12 statements through the ORM (docs/benchmarks.md), and most of its
CPU time was Django compiling them; a client-credentials grant spent a third of its time having
its one ``INSERT`` compiled. On PostgreSQL this module runs statements whose text is built once
per process:

* :func:`insert_access_token` — a client-credentials access token;

* :func:`read` — the refresh token with its access token, its user, whether the user's address is
  verified (the ``email_verified`` claim) and the authentication context of the code its family
  came from (``idp.models.CodeIssuance``), in one query;
* :func:`rotate` — one statement of data-modifying CTEs that revokes the old refresh token *if
  nobody has revoked it yet*, deletes its access token, and inserts the new ID token row, access
  token and refresh token. A single statement is atomic without ``BEGIN``/``COMMIT``; if the
  conditional ``UPDATE`` finds the token already revoked (a concurrent rotation won), nothing is
  inserted and the caller answers ``invalid_grant``.

Other databases (SQLite in development and tests) keep the ORM path in
``idp.oauth.validators.Validator``; :func:`enabled` decides. The rules (DOT 3.4's, see the
validator) are the same on both paths, and tests/idp exercises both.
"""

from __future__ import annotations

import hashlib
from functools import cache
from types import SimpleNamespace

import psycopg
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import connections
from oauth2_provider.models import (
    get_access_token_model,
    get_id_token_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings
from psycopg.types.json import Jsonb

from accounts.claims import EMAIL_VERIFIED_KNOWN
from idp.models import CodeIssuance

AccessToken = get_access_token_model()
IDToken = get_id_token_model()
RefreshToken = get_refresh_token_model()


def _db() -> str:
    return RefreshToken.objects.db


@cache
def enabled() -> bool:
    return connections[_db()].vendor == "postgresql"


class _PreparedCursor(psycopg.Cursor):
    """Server-side binding, and the statement prepared on its first execution on a connection.

    PostgreSQL then plans each of these statements once per connection instead of once per grant:
    half of a refresh grant's PostgreSQL CPU time (docs/benchmarks.md). psycopg prepares only when
    the connection's ``prepare_threshold`` is set (``DATABASE_PREPARED_STATEMENTS``, idp/settings.py);
    Django's own cursors bind on the client side and never prepare.
    """

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def _cursor():
    """A Django cursor (query logging, execute wrappers, error translation) over a _PreparedCursor."""
    connection = connections[_db()]
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(_PreparedCursor(connection.connection))


def _qn(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Columns:
    """A model's concrete columns in a SELECT list, and rows of them turned into instances."""

    def __init__(self, model, alias: str):
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.sql = ", ".join(f"{alias}.{_qn(f.column)}" for f in self.fields)
        self.width = len(self.fields)
        self._converters = None

    def instance(self, values, connection):
        if self._converters is None:
            self._converters = [(i, f, f.get_db_converters(connection)) for i, f in enumerate(self.fields)]
            self._converters = [c for c in self._converters if c[2]]
        values = list(values)
        for i, field, converters in self._converters:
            for convert in converters:
                values[i] = convert(values[i], field, connection)
        return self.model.from_db(connection.alias, None, values)


@cache
def _read_statement():
    User = get_user_model()
    rt, at, user = _Columns(RefreshToken, "rt"), _Columns(AccessToken, "at"), _Columns(User, "u")
    ci, email = CodeIssuance._meta, EmailAddress._meta
    user_email = User._meta.get_field(User.get_email_field_name()).column
    # The email_verified claim (accounts.claims), which the ID token of the refresh needs.
    verified = f"""EXISTS (
            SELECT 1 FROM {_qn(email.db_table)} e
            WHERE e.{_qn(email.get_field("user").column)} = u.{_qn(User._meta.pk.column)}
              AND UPPER(e.{_qn(email.get_field("email").column)}::text) = UPPER(u.{_qn(user_email)}::text)
              AND e.{_qn(email.get_field("verified").column)}
        )"""
    sql = f"""
        SELECT {rt.sql}, {at.sql}, {user.sql}, ci.auth_time, ci.acr, ci.amr, ci.sid, {verified}
        FROM {_qn(RefreshToken._meta.db_table)} rt
        JOIN {_qn(User._meta.db_table)} u ON u.{_qn(User._meta.pk.column)} = rt.{_qn("user_id")}
        LEFT JOIN {_qn(AccessToken._meta.db_table)} at ON at.{_qn("id")} = rt.{_qn("access_token_id")}
        LEFT JOIN LATERAL (
            SELECT c.auth_time, c.acr, c.amr, c.sid FROM {_qn(ci.db_table)} c
            WHERE c.token_family = rt.token_family ORDER BY c.id LIMIT 1
        ) ci ON true
        WHERE rt.token_checksum = %s
        ORDER BY rt.revoked DESC NULLS FIRST
        LIMIT 1
    """
    return sql, rt, at, user


def read(refresh_token: str):
    """``(refresh token with .access_token and .user, auth context or None)``, or ``None``.

    Like DOT's lookup, a live token is preferred over revoked ones with the same checksum. The
    auth context (``auth_time``, ``acr``, ``amr``, ``sid``) is that of the code the token's family
    was issued from.
    """
    sql, rt_cols, at_cols, user_cols = _read_statement()
    checksum = hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()
    connection = connections[_db()]
    with _cursor() as cursor:
        cursor.execute(sql, [checksum])
        row = cursor.fetchone()
    if row is None:
        return None
    a, b, c = rt_cols.width, rt_cols.width + at_cols.width, rt_cols.width + at_cols.width + user_cols.width
    rt = rt_cols.instance(row[:a], connection)
    rt.user = user_cols.instance(row[b:c], connection)
    rt.access_token = at_cols.instance(row[a:b], connection) if row[a] is not None else None
    auth_time, acr, amr, sid, email_verified = row[c:]
    setattr(rt.user, EMAIL_VERIFIED_KNOWN, email_verified)
    context = None
    if auth_time is not None:
        amr_field = CodeIssuance._meta.get_field("amr")
        for convert in amr_field.get_db_converters(connection):
            amr = convert(amr, amr_field, connection)
        context = SimpleNamespace(auth_time=auth_time, acr=acr, amr=amr, sid=sid)
    return rt, context


@cache
def _rotate_statement(with_id_token: bool) -> str:
    rt, at, idt = (_qn(m._meta.db_table) for m in (RefreshToken, AccessToken, IDToken))
    id_token_cte = (
        f"""
        idt AS (
            INSERT INTO {idt} (user_id, jti, application_id, expires, scope, created, updated)
            SELECT %(user)s, %(jti)s::uuid, %(app)s, %(id_expires)s::timestamptz, %(id_scope)s::text,
                   %(now)s::timestamptz, %(now)s::timestamptz
            FROM old RETURNING id
        ),"""
        if with_id_token
        else ""
    )
    id_token_id = "(SELECT id FROM idt)" if with_id_token else "NULL::bigint"
    return f"""
        WITH old AS (
            UPDATE {rt} SET revoked = %(now)s::timestamptz, access_token_id = NULL, updated = %(now)s::timestamptz
            WHERE id = %(old)s AND revoked IS NULL
            RETURNING id
        ),
        gone AS (
            DELETE FROM {at} WHERE id = %(old_access)s AND EXISTS (SELECT 1 FROM old)
        ),{id_token_cte}
        new_at AS (
            INSERT INTO {at} (user_id, source_refresh_token_id, token, token_checksum, id_token_id,
                              application_id, expires, scope, created, updated, resource)
            SELECT %(user)s, old.id, %(at_token)s::text, %(at_checksum)s::text, {id_token_id}, %(app)s,
                   %(expires)s::timestamptz, %(scope)s::text, %(now)s::timestamptz, %(now)s::timestamptz,
                   %(resource)s::jsonb
            FROM old RETURNING id
        ),
        new_rt AS (
            INSERT INTO {rt} (user_id, token, token_checksum, application_id, access_token_id, token_family,
                              resource, created, updated, revoked)
            SELECT %(user)s, %(rt_token)s::text, %(rt_checksum)s::text, %(app)s, new_at.id, %(family)s::uuid,
                   %(resource)s::jsonb, %(now)s::timestamptz, %(now)s::timestamptz, NULL
            FROM new_at RETURNING id
        )
        SELECT {id_token_id}, (SELECT id FROM new_at), (SELECT id FROM new_rt)
    """


def _stored(raw: str) -> tuple[str, str]:
    """(``token`` column, ``token_checksum`` column) as DOT's ``set_token_value`` would store them."""
    checksum = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    return ("" if oauth2_settings.COMPLIANT_BCP_RFC9700_TOKEN_STORAGE else raw), checksum


def rotate(
    *,
    old,
    user_id: int,
    client_id: int,
    access_token: str,
    refresh_token: str,
    scope: str,
    expires,
    resource: list,
    now,
    id_token=None,
) -> tuple[int | None, int, int] | None:
    """Rotate ``old``; ``(id token row id, access token id, refresh token id)``, or ``None`` when
    ``old`` had been revoked meanwhile (nothing is written then).

    ``id_token`` is ``(jti, expires, scope)`` of the ID token to record, or ``None``.
    """
    at_token, at_checksum = _stored(access_token)
    rt_token, rt_checksum = _stored(refresh_token)
    params = {
        "now": now,
        "old": old.pk,
        "old_access": old.access_token_id,
        "user": user_id,
        "app": client_id,
        "at_token": at_token,
        "at_checksum": at_checksum,
        "rt_token": rt_token,
        "rt_checksum": rt_checksum,
        "expires": expires,
        "scope": scope,
        "resource": Jsonb(resource),
        "family": old.token_family,
    }
    if id_token is not None:
        params.update(jti=str(id_token[0]), id_expires=id_token[1], id_scope=id_token[2])
    with _cursor() as cursor:
        cursor.execute(_rotate_statement(id_token is not None), params)
        row = cursor.fetchone()
    if row is None or row[1] is None:
        return None
    return row[0], row[1], row[2]


@cache
def _insert_access_token_statement() -> str:
    return f"""
        INSERT INTO {_qn(AccessToken._meta.db_table)} (user_id, source_refresh_token_id, token, token_checksum,
            id_token_id, application_id, expires, scope, created, updated, resource)
        VALUES (NULL, NULL, %(token)s::text, %(checksum)s::text, NULL, %(app)s, %(expires)s::timestamptz,
                %(scope)s::text, %(now)s::timestamptz, %(now)s::timestamptz, %(resource)s::jsonb)
    """


def insert_access_token(*, client_id: int, access_token: str, scope: str, expires, resource: list, now) -> None:
    """A client-credentials access token (no user, no refresh token, no ID token): one ``INSERT``."""
    token, checksum = _stored(access_token)
    params = {
        "token": token,
        "checksum": checksum,
        "app": client_id,
        "expires": expires,
        "scope": scope,
        "now": now,
        "resource": Jsonb(resource),
    }
    with _cursor() as cursor:
        cursor.execute(_insert_access_token_statement(), params)
