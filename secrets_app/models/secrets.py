import logging

from django.db import models

from tenants.models import TenantOwnedModel

__all__ = ["Secret"]

audit = logging.getLogger("mlmeta.audit.secrets")


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

    @property
    def store(self):
        from secrets_app.backends import get_backend

        return get_backend(self.backend)

    def read_values(self, reader) -> dict[str, str]:
        """The values, from the secret's backend. Every read is audited (never with the values)."""
        audit.info("secret %s (%s) of tenant %s read by %s", self.pk, self.name, self.tenant_id, reader)
        return self.store.get_values(self)

    def write_values(self, values: dict[str, str]) -> None:
        """Replace all values; `keys` follows. Call on a saved secret."""
        self.store.set_values(self, values)
        self.keys = sorted(values)
        self.save(update_fields=["keys", "updated"])

    def update_values(self, changes: dict, replace: bool = False) -> None:
        """Apply a ZenML update: a `None` value removes its key; with `replace`, so does absence."""
        values = {} if replace else self.store.get_values(self)
        values.update(changes)
        self.write_values({key: value for key, value in values.items() if value is not None})
