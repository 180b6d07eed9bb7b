from django.urls import path
from rest_framework.routers import SimpleRouter

from secrets_app.api import operations
from secrets_app.api.connectors import ServiceConnectorTypeViewSet, ServiceConnectorViewSet
from secrets_app.api.views import SecretViewSet

router = SimpleRouter(trailing_slash=False)
router.register("secrets", SecretViewSet, basename="secret")
router.register("service_connectors", ServiceConnectorViewSet, basename="service-connector")
router.register("service_connector_types", ServiceConnectorTypeViewSet, basename="service-connector-type")

urlpatterns = [
    path("secrets_operations/backup", operations.backup_secrets, name="secrets-backup"),
    path("secrets_operations/restore", operations.restore_secrets, name="secrets-restore"),
    *router.urls,
]
