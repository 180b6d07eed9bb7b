"""DRF authentication for the ZenML API: a Bearer JWT (or the dashboard's cookie); opaque bearer
tokens are OAuth2 access tokens, authenticated by tenants.oauth.OAuth2Authentication."""

import uuid
from functools import cache

import jwt
from django.db import connection
from rest_framework import authentication

from core.api.exceptions import CredentialsNotValid
from core.rawsql import Columns, cache_key, fields
from tenants import rbac, tokens
from tenants.models import APIKey, OAuthDevice, User
from tenants.oauth import looks_like_dot_token


def cookie_name(tenant) -> str:
    return f"zenml-server-{tenant.pk}"


class JWTAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <JWT>`, or the `zenml-server-<server id>` cookie the dashboard uses.

    Tokens are bound to the tenant that issued them; the user must still be active, and so must
    the API key (at the token's key generation) or the device a token was minted from. All of it
    is read on every request, with the user's grants, in one query (`_lookup`): nothing is cached
    across requests, so a deactivation or a removed role holds from the next request on.
    """

    def authenticate(self, request):
        tenant = getattr(request._request, "tenant", None)
        token = self._token(request, tenant)
        if token is None:
            return None
        if tenant is None:
            raise CredentialsNotValid("no tenant is set up on this server")
        try:
            claims = tokens.decode(token, tenant)
        except (jwt.InvalidTokenError, ValueError) as exc:
            raise CredentialsNotValid(f"error decoding access token: Invalid JWT token: {exc}") from None
        user, key, device, g = _lookup(claims, tenant)
        if user is None:
            raise CredentialsNotValid("the account behind this token does not exist or is inactive")
        if claims.get("api_key_id"):
            if key is not None:
                key.service_account = user  # loaded already
            if key is None or not key.accepts_generation(claims.get("key_gen")):
                raise CredentialsNotValid("the API key of this token was deactivated, rotated or deleted")
        if claims.get("device_id") and (device is None or not device.usable):
            raise CredentialsNotValid("the device of this token was locked, deleted or has expired")
        rbac.remember(user, g)
        request._request.token_claims = claims
        return user, claims

    def _token(self, request, tenant):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value:
            # An opaque token without dots is an OAuth2 access token: tenants.oauth's to check.
            return None if looks_like_dot_token(value.strip()) else value.strip()
        if tenant is not None:
            return request.COOKIES.get(cookie_name(tenant))
        return None

    def authenticate_header(self, request):
        return "Bearer"


@cache
def _columns():
    """The user's columns, the API key's and the device's that authentication reads, the grants'."""
    return (
        Columns(*(("u", f) for f in User._meta.concrete_fields)),
        Columns(*(("k", f) for f in fields(APIKey, *_KEY_FIELDS))),
        Columns(*(("d", f) for f in fields(OAuthDevice, "id", "status", "expires"))),
        rbac.assignment_columns(),
    )


_KEY_FIELDS = ("id", "active", "expires", "generation", "previous_key_hash", "retained_until")
_SQL: dict = {}


def _lookup(claims: dict, tenant) -> tuple:
    """(user, API key, device, grants) of a token's claims, in one query: the active user by
    primary key, the token's key and device (if any) by primary key, and the user's role
    assignments (tenants.rbac.assignments_query). The user is None when missing or inactive."""
    users, keys, devices, assignments = _columns()
    pk = User._meta.pk
    sql = _SQL.get(cache_key(connection))
    assignments_sql, assignments_params = rbac.assignments_query(connection, claims["sub"])
    if sql is None:
        q = connection.ops.quote_name
        sql = _SQL[cache_key(connection)] = (
            f"SELECT {users.sql(connection)}, {keys.sql(connection)}, {devices.sql(connection)}, a.* "  # noqa: S608 - our own tables and columns
            f"FROM {q(User._meta.db_table)} u "
            f"LEFT OUTER JOIN {q(APIKey._meta.db_table)} k ON k.id = %s AND k.service_account_id = u.id "
            f"LEFT OUTER JOIN {q(OAuthDevice._meta.db_table)} d "
            "ON d.id = %s AND d.tenant_id = %s AND d.user_id = u.id "
            f"LEFT OUTER JOIN ({assignments_sql}) a ON 1 = 1 "
            "WHERE u.id = %s AND u.is_active = %s"
        )
    key_id, device_id = _uuid(claims.get("api_key_id")), _uuid(claims.get("device_id"))
    params = [
        APIKey._meta.pk.get_db_prep_value(key_id, connection),
        OAuthDevice._meta.pk.get_db_prep_value(device_id, connection),
        OAuthDevice._meta.get_field("tenant").get_db_prep_value(tenant.pk, connection),
        *assignments_params,
        pk.get_db_prep_value(claims["sub"], connection),
        True,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return None, None, None, None
    first, n_user, n_key = rows[0], len(users), len(users) + len(keys)
    user = User.from_db(connection.alias, None, users.convert(first[:n_user], connection))  # every field
    key = device = None
    if key_id and first[n_user] is not None:
        key = APIKey.from_db(connection.alias, _KEY_FIELDS, keys.convert(first[n_user:n_key], connection))
    if device_id and first[n_key] is not None:
        values = devices.convert(first[n_key : n_key + len(devices)], connection)
        device = OAuthDevice.from_db(connection.alias, ("id", "status", "expires"), values)
    start = n_key + len(devices)
    # A user without role assignments has one row with none (an assignment always has an organization).
    g = rbac.grants_from_rows(assignments.convert(row[start:], connection) for row in rows if row[start] is not None)
    return user, key, device, g


def _uuid(raw) -> uuid.UUID | None:
    if raw is None:
        return None
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None
