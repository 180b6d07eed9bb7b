"""The API's JWTs (HS256), shaped like the real server's: `sub` = user id, `iss` = `aud` =
the tenant's server id, `iat` as float seconds, plus `device_id` / `api_key_id` / `pipeline_run_id`
where they apply. Every token expires."""

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
    """Claims of a token issued for `tenant`; raises jwt.InvalidTokenError otherwise."""
    claims = jwt.decode(
        token,
        settings.JWT_SECRET_KEY,
        algorithms=[ALGORITHM],
        audience=str(tenant.pk),
        issuer=str(tenant.pk),
        options={"require": ["sub", "iat", "exp"]},
    )
    claims["sub"] = uuid.UUID(claims["sub"])
    return claims
