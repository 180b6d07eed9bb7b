from django.conf import settings
from django.db import models

from core.models import BaseModel
from tenants.choices import AuditAction
from tenants.querysets import AuditEventQuerySet

__all__ = ["AppendOnlyError", "AuditEvent"]


class AppendOnlyError(Exception):
    pass


def _kept(model, **extra):
    """A reference that survives the deletion of its target: the audit trail outlives what it
    tells about (a deleted tenant, a removed user)."""
    return models.ForeignKey(
        model, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+", **extra
    )


class AuditEvent(BaseModel):
    """One thing that happened: who (`actor`, also kept by name), what (`action` on a resource),
    where (organization and tenant), when, from where (IP, user agent), and which fields changed
    (names and non-secret values only). Append-only: rows are never updated or deleted by the
    application (`manage.py` retention jobs excepted, through `purge()`).
    """

    organization = _kept("tenants.Organization")
    tenant = _kept("tenants.Tenant")
    actor = _kept(settings.AUTH_USER_MODEL)
    actor_name = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    resource_type = models.CharField(max_length=64, blank=True)
    resource_id = models.CharField(max_length=64, blank=True)
    resource_name = models.CharField(max_length=255, blank=True)
    via = models.CharField(max_length=16, blank=True, help_text="api, control, admin, dashboard, command, sso")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    detail = models.CharField(max_length=512, blank=True)

    objects = AuditEventQuerySet.as_manager()
    # Events without a tenant (logins, organization changes) are found by their organization.
    rbac_shape = {
        "type": "audit_event",
        "tenant": "tenant_id",
        "org": "organization_id",
        "project": None,
        "owner": None,
        "ident": None,
        "many": False,
    }

    class Meta(BaseModel.Meta):
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["tenant", "-created"]),
            models.Index(fields=["organization", "-created"]),
            models.Index(fields=["actor", "-created"]),
            models.Index(fields=["resource_type", "resource_id"]),
        ]

    def __str__(self):
        return (
            f"{self.actor_name or 'system'} {self.action} {self.resource_type} {self.resource_name or self.resource_id}"
        )

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted.")
