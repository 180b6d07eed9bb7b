"""The API's JWTs (HS256), shaped like the real server's: `sub` = user id, `iss` = `aud` =
the tenant's server id, `iat` as float seconds, plus `device_id` / `api_key_id` / `pipeline_run_id`
where they apply. Every token expires."""

import functools
import time
import uuid

import jwt
from django.conf import settings

ALGORITHM = "HS256"


def issue(user, tenant, expires_in: int | None = None, **claims) -> str:
    now = time.time()
    payload = {"sub": str(user.pk), "iss": str(tenant.pk), "aud": str(tenant.pk), "iat": now}
    lifetime = expires_in if expires_in is not None else settings.JWT_EXPIRE_SECONDS
    payload["exp"] = int(now + lifetime)
    payload.update({key: str(value) for key, value in claims.items() if value is not None})
    return jwt.encode(payload, settings.JWT_SECRET_KEY, algorithm=ALGORITHM)


def decode(token: str, tenant) -> dict:
    """Claims of a token issued for `tenant`; raises jwt.InvalidTokenError otherwise.

    A token checked once (signature, audience, issuer, required claims) is not checked again by
    this process: the client sends the same token on every request, and verifying it was a fifth
    of the authentication path's CPU. Only its expiry is read again; whether its user, key or
    device may still act is decided by the database on every request (tenants.authentication)."""
    claims = dict(_verified(token, str(tenant.pk), settings.JWT_SECRET_KEY))
    if claims["exp"] <= time.time():
        raise jwt.ExpiredSignatureError("Signature has expired")
    claims["sub"] = uuid.UUID(claims["sub"])
    return claims


@functools.lru_cache(maxsize=4096)
def _verified(token: str, tenant_id: str, secret: str) -> tuple:
    """The verified claims of `token` (items, so no caller can change the cached value); a token
    that fails is not kept (lru_cache keeps no exceptions)."""
    claims = jwt.decode(
        token,
        secret,
        algorithms=[ALGORITHM],
        audience=tenant_id,
        issuer=tenant_id,
        options={"require": ["sub", "iat", "exp"]},
    )
    return tuple(claims.items())
