from django.contrib import admin

from tenants import rbac
from tenants.forms import LoginForm


class MLMetaAdminSite(admin.AdminSite):
    site_header = "MLMeta"
    site_title = "MLMeta admin"
    index_title = "Manage"
    site_url = "/"
    # Django's admin login form admits staff only; members log in here as on the dashboard.
    login_form = LoginForm

    def has_permission(self, request):
        user = request.user
        return user.is_active and (user.is_superuser or bool(rbac.tenant_ids(user)))
