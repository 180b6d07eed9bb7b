"""The API-key and device-code grants of `POST /api/v1/login` (wire.md 3.2-3.4)."""

import uuid

from django.conf import settings
from rest_framework.response import Response

from core.api.exceptions import CredentialsNotValid
from tenants import audit, rbac, tokens
from tenants.models import APIKey, DeviceError, OAuthDevice
from tenants.models.service_accounts import decode_key


def authenticate_api_key(tenant, plaintext: str) -> tuple[APIKey, int]:
    """The usable key that `plaintext` belongs to, with the secret's generation: a key of
    `tenant`'s organization whose account may use `tenant`."""
    decoded = decode_key(plaintext)
    key = None
    if decoded is not None:
        key_id, secret = decoded
        key = (
            APIKey.objects.select_related("service_account")
            .filter(organization_id=tenant.organization_id, pk=key_id)
            .first()
        )
    generation = key.generation_of(secret) if key is not None else None
    if generation is None or not key.usable or not rbac.may_use_tenant(key.service_account, tenant):
        raise CredentialsNotValid("error decoding API key")
    return key, generation


def api_key_token(request, tenant) -> str:
    key, generation = authenticate_api_key(tenant, request.data.get("password") or "")
    key.record_login()
    audit.login(request, key.service_account, detail=f"API key '{key.name}' ({key.pk})")
    return tokens.issue(key.service_account, tenant, api_key_id=key.pk, key_gen=generation)


def key_label(plaintext) -> str:
    """What the audit trail keeps of a refused API key: its key id, never its secret part."""
    decoded = decode_key(plaintext or "")
    return f"API key {decoded[0]}" if decoded is not None else "API key (malformed)"


# Device-grant answers while the user has not approved yet: polling, not failed logins.
DEVICE_WAITING = ("authorization_pending", "slow_down")


class OAuthError(Exception):
    """An RFC 6749 error of the token endpoint: 400 `{"error", "error_description", "error_uri"}`."""

    def __init__(self, code: str, description: str):
        super().__init__(description)
        self.code = code

    def response(self) -> Response:
        return Response({"error": self.code, "error_description": str(self), "error_uri": None}, status=400)


def device_lifetime(device) -> int:
    if device.trusted_device:
        return settings.MLMETA_TRUSTED_DEVICE_EXPIRE_SECONDS
    return settings.MLMETA_DEVICE_EXPIRE_SECONDS


def device_token(request, tenant) -> tuple[str, int]:
    """(token, lifetime in seconds) for a verified device; OAuthError while pending or when refused."""
    raw = request.data.get("client_id") or ""
    try:
        client_id = uuid.UUID(raw)
    except ValueError:
        raise OAuthError("invalid_client", f"Authentication error: invalid client ID {raw}.") from None
    device = OAuthDevice.objects.select_related("user").filter(tenant=tenant, client_id=client_id).first()
    if device is None:
        raise OAuthError("invalid_client", f"Authentication error: no device with client ID {client_id}.")
    if device.user is not None and not rbac.may_use_tenant(device.user, tenant):
        raise OAuthError("access_denied", "Authentication error: the device's user may not log in.")
    lifetime = device_lifetime(device)
    try:
        device.grant(request.data.get("device_code") or "", lifetime)
    except DeviceError as exc:
        raise OAuthError(exc.code, str(exc)) from None
    audit.login(request, device.user, detail=f"device {device.pk}")
    return tokens.issue(device.user, tenant, expires_in=lifetime, device_id=device.pk), lifetime
