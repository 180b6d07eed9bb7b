from django.db import models

from tenants.models import TenantOwnedModel

__all__ = ["Secret"]


class Secret(TenantOwnedModel):
    """A secret's metadata. Its values live in the tenant's secrets backend, never in this row.

    Public secrets have names unique in the tenant; private ones (visible to their owner only)
    have names unique per owner.
    """

    name = models.CharField(max_length=255)
    private = models.BooleanField(default=False)
    backend = models.CharField(max_length=50, default="sql")
    keys = models.JSONField(default=list, blank=True, help_text="The value names, without values.")

    class Meta(TenantOwnedModel.Meta):
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], condition=models.Q(private=False), name="secret_public_name_unique"
            ),
            models.UniqueConstraint(
                fields=["tenant", "user", "name"], condition=models.Q(private=True), name="secret_private_name_unique"
            ),
        ]

    def __str__(self):
        return self.name
