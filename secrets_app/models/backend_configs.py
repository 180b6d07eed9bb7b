from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from secrets_app import crypto
from secrets_app.choices import BackendAuthMethod, BackendRole
from tenants.models import TenantOwnedModel

__all__ = ["SecretBackendConfig"]

CREDENTIALS = ("token", "secret_id")


class SecretBackendConfig(TenantOwnedModel):
    """How a tenant reaches one of its secrets backends, in one role (see BackendRole).

    The primary's backend name is also `Tenant.secrets_backend`; a backend with nothing to
    configure (`sql`) needs no primary row. Credentials (an OpenBao token, an AppRole secret_id)
    are encrypted by secrets_app.crypto and bound to this row; nothing renders them, not
    `str()`, the admin or a log line.
    """

    rbac_type = "tenant"

    role = models.CharField(max_length=16, choices=BackendRole.choices)
    backend = models.CharField(max_length=50, help_text="A name from settings.SECRETS_BACKENDS.")
    address = models.CharField(max_length=1024, blank=True, help_text="e.g. https://bao.example.com:8200")
    mount = models.CharField(max_length=255, default="secret", help_text="Mount point of a KV version 2 engine.")
    path_prefix = models.CharField(max_length=255, default="mlmeta", blank=True)
    auth_method = models.CharField(max_length=16, choices=BackendAuthMethod.choices, default=BackendAuthMethod.TOKEN)
    role_id = models.CharField(max_length=255, blank=True, help_text="AppRole role_id (not a secret).")
    token_ciphertext = models.TextField(blank=True, editable=False)
    secret_id_ciphertext = models.TextField(blank=True, editable=False)
    tls_verify = models.BooleanField(default=True, help_text="Verify the server's TLS certificate.")
    ca_bundle = models.CharField(
        max_length=1024, blank=True, help_text="Path of a PEM CA bundle on the MLMeta server, to verify against."
    )

    class Meta(TenantOwnedModel.Meta):
        ordering = ["tenant", "role"]
        constraints = [models.UniqueConstraint(fields=["tenant", "role"], name="secret_backend_config_role_unique")]

    def __str__(self):
        return f"{self.backend} ({self.get_role_display()})"

    def clean(self):
        if self.backend not in settings.SECRETS_BACKENDS:
            raise ValidationError({"backend": f"Unknown backend; one of: {', '.join(settings.SECRETS_BACKENDS)}."})
        if self.role == BackendRole.PRIMARY and self.tenant_id and self.backend != self.tenant.secrets_backend:
            raise ValidationError(
                {"backend": "The primary must be the tenant's secrets backend; use migrate_secrets to change it."}
            )
        from secrets_app.backends import backend_class

        errors = backend_class(self.backend).config_errors(self)
        if errors:
            raise ValidationError(errors)

    def credential(self, name: str) -> str:
        """The decrypted `token` or `secret_id` ("" when none is stored)."""
        ciphertext = getattr(self, f"{name}_ciphertext")
        return crypto.decrypt(ciphertext, self._associated_data(name)).decode() if ciphertext else ""

    def set_credential(self, name: str, value: str) -> None:
        encrypted = crypto.encrypt(value.encode(), self._associated_data(name)) if value else ""
        setattr(self, f"{name}_ciphertext", encrypted)

    def has_credential(self, name: str) -> bool:
        return bool(getattr(self, f"{name}_ciphertext"))

    def reencrypt_credentials(self) -> bool:
        """Move the stored credentials under the active key; True if one changed (unsaved)."""
        changed = False
        for name in CREDENTIALS:
            ciphertext = getattr(self, f"{name}_ciphertext")
            if ciphertext and crypto.key_id_of(ciphertext) != crypto.active_key_id():
                setattr(self, f"{name}_ciphertext", crypto.reencrypt(ciphertext, self._associated_data(name)))
                changed = True
        return changed

    def _associated_data(self, name: str) -> bytes:
        if name not in CREDENTIALS:
            raise ValueError(f"Unknown credential {name!r}.")
        return f"mlmeta-backend-config:{self.pk}:{name}".encode()
