"""DRF authentication for the ZenML API: a Bearer JWT (or the dashboard's cookie)."""

import jwt
from rest_framework import authentication

from core.api.exceptions import CredentialsNotValid
from tenants import tokens
from tenants.models import User


def cookie_name(tenant) -> str:
    return f"zenml-server-{tenant.pk}"


class JWTAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <JWT>`, or the `zenml-server-<server id>` cookie the dashboard uses.

    Tokens are bound to the tenant that issued them; the user must still be active.
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
        request._request.token_claims = claims
        return user, claims

    def _token(self, request, tenant):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value:
            return value.strip()
        if tenant is not None:
            return request.COOKIES.get(cookie_name(tenant))
        return None

    def authenticate_header(self, request):
        return "Bearer"
