from django.db import models

from tenants.models import TenantChildModel

__all__ = ["SecretValue"]


class SecretValue(TenantChildModel):
    """The values of one secret in the `sql` backend: one AES-GCM ciphertext of all of them,
    which records the id of the key it was encrypted under (`key_id` repeats it for queries)."""

    parent_field = "secret"

    secret = models.OneToOneField("secrets_app.Secret", on_delete=models.CASCADE, related_name="stored_values")
    ciphertext = models.TextField(editable=False)
    key_id = models.CharField(max_length=64, editable=False)

    class Meta(TenantChildModel.Meta):
        indexes = [models.Index(fields=["key_id"], name="secretvalue_key_id")]

    def __str__(self):
        return f"values of {self.secret_id} (key {self.key_id})"
