from django.apps import AppConfig
from django.db.models.signals import pre_delete


class SecretsConfig(AppConfig):
    name = "secrets_app"
    verbose_name = "Secrets"

    def ready(self):
        from secrets_app import checks  # noqa: F401 - registers the system check
        from secrets_app.cleanup import on_tenant_pre_delete

        pre_delete.connect(on_tenant_pre_delete, sender="tenants.Tenant", dispatch_uid="secrets_tenant_values")
