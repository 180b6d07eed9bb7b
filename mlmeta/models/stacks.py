from django.db import models

from mlmeta.choices import StackComponentType
from tenants.models import TenantOwnedModel

__all__ = ["Flavor", "Stack", "StackComponent"]


class Flavor(TenantOwnedModel):
    """An implementation of a stack component type (e.g. the `local` orchestrator); `source` is
    the class the client imports to build the component, `config_schema` a JSON schema."""

    rbac_type = "flavor"

    name = models.CharField(max_length=255)
    type = models.CharField(max_length=32, choices=StackComponentType.choices)
    display_name = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=255)
    integration = models.CharField(max_length=255, blank=True, null=True)
    config_schema = models.JSONField(default=dict, blank=True)
    connector_type = models.CharField(max_length=255, blank=True, null=True)
    connector_resource_type = models.CharField(max_length=255, blank=True, null=True)
    connector_resource_id_attr = models.CharField(max_length=255, blank=True, null=True)
    logo_url = models.CharField(max_length=1024, blank=True, null=True)
    docs_url = models.CharField(max_length=1024, blank=True, null=True)
    sdk_docs_url = models.CharField(max_length=1024, blank=True, null=True)
    is_custom = models.BooleanField(default=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["type", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "type", "name"], name="flavor_unique_in_tenant")]

    def __str__(self):
        return f"{self.name} ({self.type})"


class StackComponent(TenantOwnedModel):
    """A configured orchestrator, artifact store, ... of a tenant, usable in several stacks."""

    rbac_type = "stack_component"

    name = models.CharField(max_length=255)
    type = models.CharField(max_length=32, choices=StackComponentType.choices)
    flavor_name = models.CharField(max_length=255)
    configuration = models.JSONField(default=dict, blank=True)
    environment = models.JSONField(default=dict, blank=True)
    secrets = models.JSONField(default=list, blank=True)
    labels = models.JSONField(default=dict, blank=True, null=True)
    connector = models.ForeignKey(
        "secrets_app.ServiceConnector", on_delete=models.SET_NULL, null=True, blank=True, related_name="components"
    )
    connector_resource_id = models.CharField(max_length=255, blank=True, null=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["type", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "type", "name"], name="component_unique_in_tenant"),
        ]
        indexes = [models.Index(fields=["tenant", "-created"], name="component_tenant_created")]

    def __str__(self):
        return f"{self.name} ({self.type})"

    def get_flavor(self):
        return Flavor.objects.filter(tenant_id=self.tenant_id, type=self.type, name=self.flavor_name).first()


class Stack(TenantOwnedModel):
    """A named set of components, at most one per type, that runs pipelines."""

    rbac_type = "stack"

    name = models.CharField(max_length=255)
    description = models.CharField(max_length=255, blank=True)
    stack_spec_path = models.CharField(max_length=1024, blank=True, null=True)
    environment = models.JSONField(default=dict, blank=True)
    secrets = models.JSONField(default=list, blank=True)
    labels = models.JSONField(default=dict, blank=True, null=True)
    components = models.ManyToManyField(StackComponent, related_name="stacks", blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="stack_name_unique_in_tenant")]
        indexes = [models.Index(fields=["tenant", "-created"], name="stack_tenant_created")]

    def __str__(self):
        return self.name
