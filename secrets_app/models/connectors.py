from django.db import models

from secrets_app.atomic import atomic_write
from tenants.models import TenantOwnedModel

__all__ = ["ServiceConnector"]


class ServiceConnector(TenantOwnedModel):
    """Access to a cloud or service (AWS, Kubernetes, a Docker registry, ...). Non-secret settings
    are in `configuration`; credentials are in `secret`, stored through the secrets backend.

    The secret is internal: private to the connector's creator, hidden from the secrets API, and
    written and deleted together with the connector (`store_secrets`, `delete_with_secret`)."""

    rbac_type = "service_connector"

    name = models.CharField(max_length=255)
    connector_type = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    auth_method = models.CharField(max_length=255)
    resource_types = models.JSONField(default=list, blank=True)
    resource_id = models.CharField(max_length=255, blank=True, null=True)
    supports_instances = models.BooleanField(default=False)
    expires_at = models.DateTimeField(blank=True, null=True)
    expires_skew_tolerance = models.IntegerField(blank=True, null=True)
    expiration_seconds = models.IntegerField(blank=True, null=True)
    configuration = models.JSONField(default=dict, blank=True)
    secret = models.ForeignKey(
        "secrets_app.Secret", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    labels = models.JSONField(default=dict, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="connector_name_unique_in_tenant")]

    def __str__(self):
        return self.name

    def store_secrets(self, values: dict[str, str]) -> None:
        """Replace the secret values (none: no secret at all). Call on a saved connector,
        inside the transaction that saves it."""
        from secrets_app.models import Secret

        with atomic_write():
            if not values:
                self.drop_secret()
                return
            if self.secret is None:
                self.secret = Secret.objects.create(
                    tenant_id=self.tenant_id,
                    user_id=self.user_id,
                    name=f"connector-{self.pk}",
                    private=True,
                    backend=self.tenant.secrets_backend,
                )
                self.save(update_fields=["secret", "updated"])
            self.secret.write_values(values)

    def drop_secret(self) -> None:
        secret, self.secret = self.secret, None
        if secret is not None:
            self.save(update_fields=["secret", "updated"])
            secret.delete_with_values()

    def secret_values(self, reader) -> dict[str, str]:
        """The secret values, read (and audited) for `reader`."""
        return self.secret.read_values(reader) if self.secret_id else {}

    def full_configuration(self, reader) -> dict:
        """Configuration and secret values together: what the connector type works with."""
        return {**self.configuration, **self.secret_values(reader)}

    def instance(self, reader):
        """Its connector type at work on its configuration and secret values (read for
        `reader`), validated again: a row written outside the API may lack what the method needs.
        Raises ConnectorConfigError."""
        from secrets_app import connectors

        kind = connectors.connector_type(self.connector_type)
        settings = kind.configure(
            self.auth_method, self.resource_types, self.resource_id, self.full_configuration(reader)
        )
        return kind(self.auth_method, {**settings.configuration, **settings.secrets}, self.expiration_seconds)

    def delete_with_secret(self) -> None:
        with atomic_write():
            secret = self.secret
            self.delete()
            if secret is not None:
                secret.delete_with_values()
