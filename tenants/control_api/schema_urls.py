"""The URLconf the control plane's OpenAPI schema is generated from: only its own routes, under
their real prefix (`manage.py spectacular --urlconf tenants.control_api.schema_urls`)."""

from django.urls import include, path

from tenants.control_api.urls import router

urlpatterns = [path("api/control/v1/", include(router.urls))]
