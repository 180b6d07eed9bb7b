from django.contrib import admin
from django.urls import include, path, re_path

from core import views as core_views
from core.api.exceptions import api_not_found

api_v1 = [
    path("", include("tenants.api.urls")),
    path("", include("mlmeta.api.urls")),
    path("", include("secrets_app.api.urls")),
    re_path(r"^.*$", api_not_found),
]

urlpatterns = [
    path("health", core_views.health, name="health"),
    path("ready", core_views.ready, name="ready"),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    path("", include("tenants.urls")),
    path("", include("mlmeta.urls")),
]
