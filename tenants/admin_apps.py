from django.contrib.admin.apps import AdminConfig


class MLMetaAdminConfig(AdminConfig):
    """Django admin with MLMeta's site: tenant members may use it, not only staff."""

    default_site = "tenants.admin_site.MLMetaAdminSite"
