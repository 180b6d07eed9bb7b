from django.contrib import admin
from django.urls import include, path, re_path
from oauth2_provider import urls as dot_urls

from core import views as core_views
from core.api.exceptions import api_not_found
from tenants import oauth

# django-oauth-toolkit's provider endpoints and OIDC discovery, without its application-management
# pages (applications are registered by operators in the admin or with `manage.py createapplication`).
# The consent page is our subclass (its CSP lets the form redirect to the client), and so is
# userinfo (it refuses an access token in the URL).
oauth_urls = (
    [
        path("authorize/", oauth.AuthorizationView.as_view(), name="authorize"),
        path("userinfo/", oauth.UserInfoView.as_view(), name="user-info"),
    ]
    + [pattern for pattern in dot_urls.base_urlpatterns if pattern.name != "authorize"]
    + [pattern for pattern in dot_urls.oidc_urlpatterns if pattern.name != "user-info"],
    dot_urls.app_name,
)

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
    path("api/control/v1/", include("tenants.control_api.urls")),
    path("admin/", admin.site.urls),
    path("oauth/", include(oauth_urls)),
    path("", include("tenants.urls")),
    path("", include("secrets_app.urls")),
    path("", include("mlmeta.dashboard.urls")),
    path("", include("mlmeta.urls")),
]
