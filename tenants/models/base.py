from django.conf import settings
from django.db import models

from core.models import BaseModel
from tenants.querysets import RestrictedQuerySet

__all__ = ["ProjectOwnedModel", "TenantChildModel", "TenantOwnedModel"]


class TenantOwnedModel(BaseModel):
    """A row that belongs to one tenant (a ZenML "workspace"); `user` is its creator, if any."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta(BaseModel.Meta):
        abstract = True


class ProjectOwnedModel(TenantOwnedModel):
    """A row that belongs to one project of a tenant; its tenant is always the project's tenant."""

    project = models.ForeignKey("tenants.Project", on_delete=models.CASCADE, related_name="+")

    class Meta(TenantOwnedModel.Meta):
        abstract = True

    def save(self, *args, **kwargs):
        if self.project_id:
            self.tenant_id = self.project.tenant_id
        super().save(*args, **kwargs)


class TenantChildModel(BaseModel):
    """A row that hangs off a tenant-owned parent (a link or a visualization). It carries the
    parent's tenant, so it is stored, indexed and restricted like every other tenant-owned row."""

    parent_field = ""  # name of the foreign key whose target supplies the tenant

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+", editable=False)

    objects = RestrictedQuerySet.as_manager()

    class Meta(BaseModel.Meta):
        abstract = True

    def save(self, *args, **kwargs):
        if not self.tenant_id:
            self.tenant_id = getattr(self, self.parent_field).tenant_id
        super().save(*args, **kwargs)
