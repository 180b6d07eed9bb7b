from django.urls import path
from rest_framework.routers import SimpleRouter

from tenants.api import devices, server, service_accounts, users, views

router = SimpleRouter(trailing_slash=False)
router.register("users", users.UserViewSet, basename="user")
router.register("projects", views.ProjectViewSet, basename="project")
router.register("service_accounts", service_accounts.ServiceAccountViewSet, basename="service-account")
api_keys = service_accounts.APIKeyViewSet
ITEM = {"get": "retrieve", "put": "update", "delete": "destroy"}

urlpatterns = [
    path("info", views.info, name="api-info"),
    path("version", views.version, name="api-version"),
    path("settings", server.server_settings, name="api-settings"),
    path("activate", server.activate, name="api-activate"),
    path("login", views.LoginView.as_view(), name="api-login"),
    path("logout", views.logout, name="api-logout"),
    path("api_token", views.api_token, name="api-token"),
    path("current-user", users.current_user, name="api-current-user"),
    path("service_accounts/<str:service_account_id>/api_keys", api_keys.as_view({"get": "list", "post": "create"})),
    path("service_accounts/<str:service_account_id>/api_keys/<str:pk>", api_keys.as_view(ITEM)),
    path("service_accounts/<str:service_account_id>/api_keys/<str:pk>/rotate", api_keys.as_view({"put": "rotate"})),
    path("device_authorization", devices.device_authorization, name="api-device-authorization"),
    path("devices", devices.DeviceViewSet.as_view({"get": "list"})),
    path("devices/<str:pk>", devices.DeviceViewSet.as_view(ITEM)),
    path("devices/<str:pk>/verify", devices.DeviceViewSet.as_view({"put": "verify"})),
    *router.urls,
]
