"""The one statement behind every bearer-token check of our JSON APIs.

Built once per process and database from the models' metadata (table and column names, the
backend's and the fields' converters), so no ORM query is compiled per request: compiling the
join was most of what a narrow token query still cost (docs/benchmarks.md). The rows become
ordinary model instances (``Model.from_db``), deferred outside the columns read here.
"""

from __future__ import annotations

import functools
import hashlib

from django.contrib.auth import get_user_model
from django.db import connections, router
from oauth2_provider.models import get_access_token_model

# The token columns a view may need without another query (``token_auth_context`` follows the
# refresh token); any other column is still there, deferred, loaded on first access.
TOKEN_FIELDS = frozenset({"id", "user", "application", "source_refresh_token", "expires", "scope", "resource"})


class _Statement:
    def __init__(self, alias: str, *, with_user: bool) -> None:
        connection = connections[alias]
        q = connection.ops.quote_name
        token_model = get_access_token_model()
        user_model = get_user_model()
        client_field = token_model._meta.get_field("application")
        client_model = client_field.related_model
        user_field = token_model._meta.get_field("user")
        self.alias = alias
        self.token_model, self.user_model = token_model, user_model
        # Model.from_db wants the loaded fields in the model's own field order.
        self.token_fields = [f for f in token_model._meta.concrete_fields if f.name in TOKEN_FIELDS]
        client_id = client_model._meta.get_field("client_id")
        is_active = user_model._meta.get_field("is_active")
        self.user_fields = list(user_model._meta.concrete_fields) if with_user else [is_active]
        self.is_active_at = len(self.token_fields) + 1 + self.user_fields.index(is_active)
        columns = (
            [(f"t.{q(f.column)}", f, token_model) for f in self.token_fields]
            + [(f"a.{q(client_id.column)}", client_id, client_model)]
            + [(f"u.{q(f.column)}", f, user_model) for f in self.user_fields]
        )
        self.sql = (
            f"SELECT {', '.join(c for c, _, _ in columns)} FROM {q(token_model._meta.db_table)} t"
            f" LEFT OUTER JOIN {q(client_model._meta.db_table)} a"
            f" ON a.{q(client_model._meta.pk.column)} = t.{q(client_field.column)}"
            f" LEFT OUTER JOIN {q(user_model._meta.db_table)} u"
            f" ON u.{q(user_model._meta.pk.column)} = t.{q(user_field.column)}"
            f" WHERE t.{q(token_model._meta.get_field('token_checksum').column)} = %s"
        )
        self.converters = []
        for position, (_, field, model) in enumerate(columns):
            expression = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
            if found:
                self.converters.append((position, expression, found))

    def fetch(self, checksum: str) -> list | None:
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [checksum])
            row = cursor.fetchone()
        if row is None:
            return None
        row = list(row)
        for position, expression, converters in self.converters:
            value = row[position]
            for converter in converters:
                value = converter(value, expression, connection)
            row[position] = value
        return row


@functools.cache
def _statement(alias: str, with_user: bool) -> _Statement:
    return _Statement(alias, with_user=with_user)


def access_token_row(raw: str, *, with_user: bool):
    """``(token, client_id, user_is_active)`` for the token ``raw``, or ``None`` if there is no such token.

    ``token`` is the DOT access token (the columns in ``TOKEN_FIELDS`` loaded) found by its
    ``token_checksum``; ``client_id`` is its client's; with ``with_user`` the token's user is
    loaded in the same statement (``token.user``), else only whether it is active.
    """
    token_model = get_access_token_model()
    alias = router.db_for_read(token_model)
    statement = _statement(alias, with_user)
    row = statement.fetch(hashlib.sha256(raw.encode("utf-8")).hexdigest())
    if row is None:
        return None
    n = len(statement.token_fields)
    token = token_model.from_db(alias, [f.attname for f in statement.token_fields], row[:n])
    if with_user and token.user_id is not None:
        user = statement.user_model.from_db(alias, [f.attname for f in statement.user_fields], row[n + 1 :])
        token.user = user
    return token, row[n], row[statement.is_active_at]
