import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import models
from django.utils import timezone

from tenants.choices import OAuthDeviceStatus
from tenants.models.base import TenantOwnedModel
from tenants.querysets import DeviceQuerySet

__all__ = ["DeviceError", "OAuthDevice"]


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class DeviceError(Exception):
    """A device-flow step that is refused; `code` is the OAuth2 error code (RFC 8628)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class OAuthDevice(TenantOwnedModel):
    """A client machine logging in through the OAuth2 device flow (`zenml login URL`).

    `user` is the person who verified it. Only hashes of the device code (the client's secret)
    and the user code (shown in the browser) are stored. Tokens minted for the device carry its
    id and stop working when it is locked, deleted or expired.
    """

    rbac_type = "member"

    MAX_FAILED_ATTEMPTS = 3

    client_id = models.UUIDField()
    device_code_hash = models.CharField(max_length=64, editable=False)
    user_code_hash = models.CharField(max_length=64, editable=False)
    status = models.CharField(max_length=16, choices=OAuthDeviceStatus.choices, default=OAuthDeviceStatus.PENDING)
    expires = models.DateTimeField(null=True, blank=True)
    trusted_device = models.BooleanField(default=False)
    failed_auth_attempts = models.PositiveIntegerField(default=0)
    last_login = models.DateTimeField(null=True, blank=True)
    os = models.CharField(max_length=255, blank=True, null=True)
    ip_address = models.CharField(max_length=64, blank=True, null=True)
    hostname = models.CharField(max_length=255, blank=True, null=True)
    python_version = models.CharField(max_length=64, blank=True, null=True)
    zenml_version = models.CharField(max_length=64, blank=True, null=True)
    city = models.CharField(max_length=255, blank=True, null=True)
    region = models.CharField(max_length=255, blank=True, null=True)
    country = models.CharField(max_length=255, blank=True, null=True)

    objects = DeviceQuerySet.as_manager()

    class Meta(TenantOwnedModel.Meta):
        verbose_name = "OAuth device"
        constraints = [models.UniqueConstraint(fields=["tenant", "client_id"], name="device_client_unique")]

    def __str__(self):
        return f"{self.hostname or 'device'} ({self.client_id})"

    def start_authorization(self, timeout: int) -> tuple[str, str]:
        """(Re)start the flow: new codes, pending for `timeout` seconds. Returns (device code, user code)."""
        device_code, user_code = secrets.token_hex(32), secrets.token_hex(16)
        self.device_code_hash, self.user_code_hash = _digest(device_code), _digest(user_code)
        self.status = OAuthDeviceStatus.PENDING
        self.expires = timezone.now() + timedelta(seconds=timeout)
        self.user = None
        self.failed_auth_attempts = 0
        self.save()
        return device_code, user_code

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()

    def user_code_matches(self, user_code: str) -> bool:
        return hmac.compare_digest(_digest(user_code or ""), self.user_code_hash)

    def device_code_matches(self, device_code: str) -> bool:
        return hmac.compare_digest(_digest(device_code or ""), self.device_code_hash)

    def shown_to(self, user, user_code: str) -> bool:
        """Whether `user` may look at this device by its user code: unclaimed or theirs, and the code matches.

        Looking does not count as a failed attempt; only `verify()` does.
        """
        return self.user_id in (None, user.pk) and self.user_code_matches(user_code)

    def check_verifiable(self) -> None:
        """Raise DeviceError unless the device still waits for a user to verify it."""
        if self.status != OAuthDeviceStatus.PENDING:
            raise DeviceError("invalid_request", "Invalid request: device not pending.")
        if self.expired:
            raise DeviceError("expired_token", "Invalid request: device verification expired.")

    def verify(self, user, user_code: str, trusted: bool) -> None:
        """The user confirms in the browser that this device is theirs (the API and the dashboard)."""
        self.check_verifiable()
        if not self.user_code_matches(user_code):
            self.failed_auth_attempts += 1
            if self.failed_auth_attempts >= self.MAX_FAILED_ATTEMPTS:
                self.status = OAuthDeviceStatus.LOCKED
            self.save(update_fields=["failed_auth_attempts", "status", "updated"])
            raise DeviceError("access_denied", "Invalid request: invalid user code.")
        self.user, self.trusted_device, self.status = user, trusted, OAuthDeviceStatus.VERIFIED
        self.save(update_fields=["user", "trusted_device", "status", "updated"])

    def grant(self, device_code: str, lifetime: int) -> None:
        """The client exchanges its device code for a token, once, after verification."""
        if not self.device_code_matches(device_code):
            raise DeviceError("invalid_grant", "Authentication error: invalid device code.")
        if self.status == OAuthDeviceStatus.LOCKED:
            raise DeviceError(
                "access_denied", f"Authentication error: device with client ID {self.client_id} is locked."
            )
        if self.status == OAuthDeviceStatus.ACTIVE:
            raise DeviceError("invalid_grant", "Authentication error: the device code was already used.")
        if self.expired:
            raise DeviceError("expired_token", f"Authentication error: device with client ID {self.client_id} expired.")
        if self.status == OAuthDeviceStatus.PENDING:
            raise DeviceError(
                "authorization_pending", f"Authentication error: device with client ID {self.client_id} is pending."
            )
        now = timezone.now()
        self.status, self.last_login, self.expires = OAuthDeviceStatus.ACTIVE, now, now + timedelta(seconds=lifetime)
        self.save(update_fields=["status", "last_login", "expires", "updated"])

    def set_locked(self, locked: bool) -> None:
        if locked:
            self.status = OAuthDeviceStatus.LOCKED
        elif self.status == OAuthDeviceStatus.LOCKED:
            self.status = OAuthDeviceStatus.ACTIVE if self.last_login else OAuthDeviceStatus.PENDING
        self.save(update_fields=["status", "updated"])

    @property
    def usable(self) -> bool:
        """Whether tokens minted for this device are still good."""
        return self.status == OAuthDeviceStatus.ACTIVE and not self.expired
