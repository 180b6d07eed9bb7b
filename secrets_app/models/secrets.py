import logging
from functools import cached_property

from django.db import models

from secrets_app.atomic import atomic_write
from secrets_app.limits import check_values
from tenants.models import TenantOwnedModel

__all__ = ["Secret"]

audit = logging.getLogger("mlmeta.audit.secrets")


class Secret(TenantOwnedModel):
    """A secret's metadata. Its values live in the tenant's secrets backends, never in this row;
    `backend` records the tenant's primary backend, which `migrate_secrets` changes.

    Public secrets have names unique in the tenant; private ones (visible to their owner only)
    have names unique per owner. Value writes go through `atomic_write()`: the row and the
    values change together or not at all.
    """

    rbac_type = "secret"

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

    @cached_property
    def store(self):
        """The tenant's backends (secrets_app.stores.TenantStore)."""
        from secrets_app.stores import tenant_store

        return tenant_store(self.tenant)

    def read_values(self, reader) -> dict[str, str]:
        """The values, from the tenant's backends. Every read is audited (never with the values)."""
        audit.info("secret %s (%s) of tenant %s read by %s", self.pk, self.name, self.tenant_id, reader)
        return self.store.get_values(self)

    def write_values(self, values: dict[str, str]) -> None:
        """Replace all values; `keys` follows. Call on a saved secret. Values over the limits of
        secrets_app.limits raise SecretTooLarge before anything is written."""
        check_values(values)
        with atomic_write():
            self.store.set_values(self, values)
            self.keys = sorted(values)
            self.save(update_fields=["keys", "updated"])

    def update_values(self, changes: dict, replace: bool = False) -> None:
        """Apply a ZenML update: a `None` value removes its key; with `replace`, so does absence.

        The read-merge-write runs under the row's lock (SELECT ... FOR UPDATE), so two merges
        of one secret run one after the other and neither loses the other's keys."""
        with atomic_write():
            Secret.objects.select_for_update().filter(pk=self.pk).values_list("pk", flat=True).get()
            values = {} if replace else self.store.get_values(self)
            values.update(changes)
            self.write_values({key: value for key, value in values.items() if value is not None})

    def delete_with_values(self) -> None:
        """Delete the values from every backend, then the row; both or neither."""
        with atomic_write():
            self.store.delete_values(self)
            self.delete()
