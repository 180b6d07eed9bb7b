"""The audit trail, read-only."""

from rest_framework import mixins

from tenants.control_api import serializers as s
from tenants.control_api.base import ControlViewSet
from tenants.control_api.filtersets import AuditEventFilterSet
from tenants.models import AuditEvent


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ControlViewSet):
    """Audit events the caller may read (`audit_event:read` at organization or tenant scope),
    newest first, filtered by actor, action, resource, tenant and time range."""

    queryset = AuditEvent.objects.all()
    serializer_class = s.AuditEventSerializer
    filterset_class = AuditEventFilterSet
