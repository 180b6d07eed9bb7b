"""Authentication of the control-plane API: the browser's session (with CSRF), or an
organization's API key sent as it is (`Authorization: Bearer ZENKEY_...`).

Tokens of a tenant's /api/v1 (JWTs) are not accepted here: they are bound to one tenant, while the
control plane manages the organization. An API key acts as its service account, with that
account's roles; the key must be active, unexpired, of an active account, and its secret current
(or the previous one within the rotation's retain period). Each use records the key's last login.
"""

from functools import cache

from django.db import connection
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from core.rawsql import Columns, cache_key
from tenants import rbac
from tenants.models import APIKey, User
from tenants.models.service_accounts import KEY_PREFIX, decode_key


class APIKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        value = value.strip()
        if not value.startswith(KEY_PREFIX):
            raise exceptions.AuthenticationFailed(
                "The control-plane API takes an API key (ZENKEY_...) as Bearer token."
            )
        key = self._usable_key(value)
        key.record_login()
        return key.service_account, key

    @staticmethod
    def _usable_key(value: str) -> APIKey:
        decoded = decode_key(value)
        key = None
        if decoded is not None:
            key_id, secret = decoded
            key = _key_with_grants(key_id)
            if key is not None and key.generation_of(secret) is None:
                key = None
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if not key.usable:
            raise exceptions.AuthenticationFailed("This API key is deactivated or expired, or its account is.")
        return key

    def authenticate_header(self, request):
        return "Bearer"


@cache
def _columns() -> tuple:
    return (
        Columns(*(("u", f) for f in User._meta.concrete_fields)),
        Columns(*(("k", f) for f in APIKey._meta.concrete_fields)),
        rbac.assignment_columns(),
    )


_SQL: dict = {}


def _key_with_grants(key_id) -> APIKey | None:
    """The key `key_id` with its service account and the account's grants, in one query (the
    grants are kept for the request: tenants.rbac.remember)."""
    users, keys, assignments = _columns()
    q = connection.ops.quote_name
    key_table = q(APIKey._meta.db_table)
    account_sql = f"(SELECT service_account_id FROM {key_table} WHERE id = %s)"  # noqa: S608 - our own table
    assignments_sql, assignments_params = rbac.assignments_query(connection, key_id, account_sql)
    sql = _SQL.get(cache_key(connection))
    if sql is None:
        sql = _SQL[cache_key(connection)] = (
            f"SELECT {users.sql(connection)}, {keys.sql(connection)}, a.* FROM {key_table} k "  # noqa: S608
            f"INNER JOIN {q(User._meta.db_table)} u ON u.id = k.service_account_id "
            f"LEFT OUTER JOIN ({assignments_sql}) a ON 1 = 1 WHERE k.id = %s"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*assignments_params, APIKey._meta.pk.get_db_prep_value(key_id, connection)])
        rows = cursor.fetchall()
    if not rows:
        return None
    first, start = rows[0], len(users) + len(keys)
    user = User.from_db(connection.alias, None, users.convert(first[: len(users)], connection))
    key = APIKey.from_db(connection.alias, None, keys.convert(first[len(users) : start], connection))
    key.service_account = user
    # An account without role assignments has one row with none (an assignment always has an organization).
    rbac.remember(user, rbac.grants_from_rows(assignments.convert(r[start:], connection) for r in rows if r[start]))
    return key


class APIKeyScheme(OpenApiAuthenticationExtension):
    """How the schema describes APIKeyAuthentication (drf-spectacular finds it by import)."""

    target_class = "tenants.control_api.authentication.APIKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "ZENKEY_..."}
