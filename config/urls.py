from django.contrib import admin
from django.urls import include, path

from core import views as core_views

urlpatterns = [
    path("health", core_views.health, name="health"),
    path("ready", core_views.ready, name="ready"),
    path("admin/", admin.site.urls),
    path("", include("tenants.urls")),
    path("", include("mlmeta.urls")),
]
