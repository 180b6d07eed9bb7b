"""Authentication of the control-plane API: the browser's session (with CSRF), or an
organization's API key sent as it is (`Authorization: Bearer ZENKEY_...`).

Tokens of a tenant's /api/v1 (JWTs) are not accepted here: they are bound to one tenant, while the
control plane manages the organization. An API key acts as its service account, with that
account's roles; the key must be active, unexpired, of an active account, and its secret current
(or the previous one within the rotation's retain period). Each use records the key's last login.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from tenants.models import APIKey
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
            key = APIKey.objects.select_related("service_account").filter(pk=key_id).first()
            if key is not None and key.generation_of(secret) is None:
                key = None
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if not key.usable:
            raise exceptions.AuthenticationFailed("This API key is deactivated or expired, or its account is.")
        return key

    def authenticate_header(self, request):
        return "Bearer"


class APIKeyScheme(OpenApiAuthenticationExtension):
    """How the schema describes APIKeyAuthentication (drf-spectacular finds it by import)."""

    target_class = "tenants.control_api.authentication.APIKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "ZENKEY_..."}
