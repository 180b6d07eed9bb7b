from django.apps import AppConfig


class MLMetaConfig(AppConfig):
    name = "mlmeta"
    verbose_name = "Metadata store"

    def ready(self):
        # Imported for their side effects: tasks, the runners' system check.
        from mlmeta import automation_tasks, checks, seeding, tasks, triggers  # noqa: F401
        from tenants.signals import tenant_created, tenant_repair

        tenant_created.connect(seeding.seed_tenant_receiver, dispatch_uid="mlmeta.seed_tenant")
        tenant_repair.connect(seeding.seed_tenant_receiver, dispatch_uid="mlmeta.repair_tenant")
        triggers.connect()
