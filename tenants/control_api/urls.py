"""/api/control/v1/: the control-plane API (DRF router), its OpenAPI schema and Swagger UI."""

from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from tenants.control_api.views.access import InvitationViewSet, RoleAssignmentViewSet, RoleViewSet, TeamViewSet
from tenants.control_api.views.audit import AuditEventViewSet
from tenants.control_api.views.organizations import OrganizationViewSet, TenantViewSet
from tenants.control_api.views.service_accounts import APIKeyViewSet, ServiceAccountViewSet

router = SimpleRouter()
router.register("organizations", OrganizationViewSet, basename="control-organization")
router.register("tenants", TenantViewSet, basename="control-tenant")
router.register("teams", TeamViewSet, basename="control-team")
router.register("roles", RoleViewSet, basename="control-role")
router.register("role-assignments", RoleAssignmentViewSet, basename="control-role-assignment")
router.register("invitations", InvitationViewSet, basename="control-invitation")
router.register("service-accounts", ServiceAccountViewSet, basename="control-service-account")
router.register("api-keys", APIKeyViewSet, basename="control-api-key")
router.register("audit-events", AuditEventViewSet, basename="control-audit-event")

SCHEMA_URLCONF = "tenants.control_api.schema_urls"

# The schema and its Swagger UI describe the API and hold no data: public, like ZenML's /docs.
PUBLIC = {"authentication_classes": [], "permission_classes": [AllowAny]}

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(urlconf=SCHEMA_URLCONF, **PUBLIC), name="control-schema"),
    # The split view serves Swagger UI's setup script as a file (script-src 'self'); Swagger UI itself
    # writes a few <style> elements, so this one page also allows inline styles (never scripts).
    path(
        "docs/",
        csp_update({"style-src": ["'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(url_name="control-schema", **PUBLIC)
        ),
        name="control-docs",
    ),
    path("", include(router.urls)),
]
