import base64
import binascii
import hashlib
import hmac
import json
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import BaseModel
from tenants.querysets import APIKeyQuerySet

__all__ = ["APIKey"]

KEY_PREFIX = "ZENKEY_"
# How stale an API key's `last_login` may get before a use writes it again.
LOGIN_RECORD_INTERVAL = timedelta(minutes=1)


def _digest(secret: str, salt: bytes | None = None) -> str:
    """`salt$hmac-sha256(salt, secret)` in hex; the secret is 256 random bits, so no slow hash is needed."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    return f"{salt.hex()}${hmac.new(salt, secret.encode(), hashlib.sha256).hexdigest()}"


def _matches(secret: str, stored: str) -> bool:
    salt, sep, _ = stored.partition("$")
    if not sep:
        return False
    try:
        expected = _digest(secret, bytes.fromhex(salt))
    except ValueError:
        return False
    return hmac.compare_digest(expected, stored)


def decode_key(plaintext: str) -> tuple[uuid.UUID, str] | None:
    """(key id, secret) of a `ZENKEY_` + base64(JSON {"id", "key"}) API key, or None if malformed."""
    if not plaintext or not plaintext.startswith(KEY_PREFIX):
        return None
    try:
        decoded = json.loads(base64.b64decode(plaintext.removeprefix(KEY_PREFIX), validate=True))
        return uuid.UUID(decoded["id"]), str(decoded["key"])
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        return None


class APIKey(BaseModel):
    """An API key of an organization's service account, in the format of ZenML's (`ZENKEY_...`);
    it logs in to every tenant where the account holds a role.

    Only a salted HMAC of its secret is stored; the plaintext is returned once, by `issue()` or
    `rotate()`. After a rotation the previous secret still logs in until `retained_until`.
    `generation` counts the secrets the key has had (1 after creation); tokens minted from the
    key carry it as `key_gen`, so `accepts_generation()` can turn them down once their secret is
    rotated out, or at once when the key or its account is deactivated.
    """

    organization = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="api_keys")
    service_account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    key_hash = models.CharField(max_length=128, editable=False)
    previous_key_hash = models.CharField(max_length=128, blank=True, editable=False)
    retained_until = models.DateTimeField(null=True, blank=True, editable=False)
    retain_period_minutes = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    generation = models.PositiveIntegerField(default=1, editable=False)
    last_login = models.DateTimeField(null=True, blank=True)
    last_rotated = models.DateTimeField(null=True, blank=True)
    expires = models.DateTimeField(null=True, blank=True, help_text="After this the key no longer logs in.")

    objects = APIKeyQuerySet.as_manager()
    rbac_shape = {
        "type": "service_account",
        "tenant": "service_account__memberships__tenant_id",
        "org": "organization_id",
        "project": None,
        "owner": "service_account_id",
        "ident": "service_account_id",
        "many": True,
    }

    class Meta(BaseModel.Meta):
        verbose_name = "API key"
        constraints = [
            models.UniqueConstraint(fields=["service_account", "name"], name="api_key_name_unique_per_account"),
        ]

    def __str__(self):
        return f"{self.service_account} / {self.name}"

    @classmethod
    def issue(cls, **fields) -> tuple["APIKey", str]:
        """Create a key; returns it with its plaintext, which is not stored."""
        key = cls(**fields)
        plaintext = key._new_secret()
        key.save()
        return key, plaintext

    def _new_secret(self) -> str:
        secret = secrets.token_hex(32)
        self.key_hash = _digest(secret)
        encoded = base64.b64encode(json.dumps({"id": str(self.pk), "key": secret}).encode()).decode()
        return KEY_PREFIX + encoded

    def rotate(self, retain_period_minutes: int = 0) -> str:
        """Replace the secret; the previous one keeps working for `retain_period_minutes`."""
        now = timezone.now()
        retain = max(0, retain_period_minutes)
        self.previous_key_hash = self.key_hash if retain else ""
        self.retained_until = now + timedelta(minutes=retain) if retain else None
        self.retain_period_minutes = retain
        self.generation += 1
        self.last_rotated = now
        plaintext = self._new_secret()
        self.save()
        return plaintext

    @property
    def usable(self) -> bool:
        expired = self.expires is not None and self.expires <= timezone.now()
        return self.active and not expired and self.service_account.is_active

    def _previous_retained(self) -> bool:
        return bool(self.previous_key_hash and self.retained_until and self.retained_until > timezone.now())

    def generation_of(self, secret: str) -> int | None:
        """The generation `secret` belongs to (current, or previous while retained), if any."""
        if _matches(secret, self.key_hash):
            return self.generation
        if self._previous_retained() and _matches(secret, self.previous_key_hash):
            return self.generation - 1
        return None

    def accepts_generation(self, generation) -> bool:
        """Whether a token minted from secret `generation` of this key may still be used."""
        if not self.usable:
            return False
        try:
            generation = int(generation)
        except (TypeError, ValueError):
            return False
        return generation == self.generation or (generation == self.generation - 1 and self._previous_retained())

    def record_login(self) -> None:
        """Stamp the key's and its account's last login, at most once a minute: the control plane
        takes the key on every request, and two UPDATEs each time cost more than the request."""
        now = timezone.now()
        if self.last_login is not None and timedelta(0) <= now - self.last_login < LOGIN_RECORD_INTERVAL:
            return
        type(self).objects.filter(pk=self.pk).update(last_login=now)
        type(self.service_account).objects.filter(pk=self.service_account_id).update(last_login=now)
        self.last_login = now
