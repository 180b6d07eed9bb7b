from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _seed_roles(sender, using="default", **kwargs):
    from tenants.access import ensure_builtin_roles

    ensure_builtin_roles()


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants and access"

    def ready(self):
        from core.signals import access_denied
        from tenants.audit import on_access_denied

        post_migrate.connect(_seed_roles, sender=self, dispatch_uid="tenants-seed-roles")
        access_denied.connect(on_access_denied, dispatch_uid="tenants-audit-denied")
