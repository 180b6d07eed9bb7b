from django.urls import path
from rest_framework.routers import SimpleRouter

from tenants.api import views

router = SimpleRouter(trailing_slash=False)
router.register("users", views.UserViewSet, basename="user")
router.register("projects", views.ProjectViewSet, basename="project")

urlpatterns = [
    path("info", views.info, name="api-info"),
    path("version", views.version, name="api-version"),
    path("settings", views.server_settings, name="api-settings"),
    path("login", views.LoginView.as_view(), name="api-login"),
    path("logout", views.logout, name="api-logout"),
    path("api_token", views.api_token, name="api-token"),
    path("current-user", views.current_user, name="api-current-user"),
    *router.urls,
]
