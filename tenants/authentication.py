"""DRF authentication for the ZenML API: a Bearer JWT (or the dashboard's cookie); opaque bearer
tokens are OAuth2 access tokens, authenticated by tenants.oauth.OAuth2Authentication."""

import uuid

import jwt
from rest_framework import authentication

from core.api.exceptions import CredentialsNotValid
from tenants import tokens
from tenants.models import APIKey, OAuthDevice, User
from tenants.oauth import looks_like_dot_token


def cookie_name(tenant) -> str:
    return f"zenml-server-{tenant.pk}"


class JWTAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <JWT>`, or the `zenml-server-<server id>` cookie the dashboard uses.

    Tokens are bound to the tenant that issued them; the user must still be active, and so must
    the API key (at the token's key generation) or the device a token was minted from.
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
        user = User.objects.filter(pk=claims["sub"], is_active=True).first()
        if user is None:
            raise CredentialsNotValid("the account behind this token does not exist or is inactive")
        self._check_origin(claims, user, tenant)
        request._request.token_claims = claims
        return user, claims

    @staticmethod
    def _check_origin(claims, user, tenant) -> None:
        if claims.get("api_key_id"):
            key = APIKey.objects.filter(pk=_uuid(claims["api_key_id"]), service_account=user).first()
            if key is not None:
                key.service_account = user  # loaded already
            if key is None or not key.accepts_generation(claims.get("key_gen")):
                raise CredentialsNotValid("the API key of this token was deactivated, rotated or deleted")
        if claims.get("device_id"):
            device = OAuthDevice.objects.filter(pk=_uuid(claims["device_id"]), tenant=tenant, user=user).first()
            if device is None or not device.usable:
                raise CredentialsNotValid("the device of this token was locked, deleted or has expired")

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


def _uuid(raw) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None
