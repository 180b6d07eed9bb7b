from django.db import models

from tenants.models import TenantOwnedModel

__all__ = ["ServiceConnector"]


class ServiceConnector(TenantOwnedModel):
    """Access to a cloud or service (AWS, Kubernetes, a Docker registry, ...). Non-secret settings
    are in `configuration`; credentials are in `secret`, stored through the secrets backend."""

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
