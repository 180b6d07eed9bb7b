from django.apps import AppConfig


class MLMetaConfig(AppConfig):
    name = "mlmeta"
    verbose_name = "Metadata store"

    def ready(self):
        from mlmeta import automation_tasks, seeding, triggers  # noqa: F401 (registers the tasks)
        from mlmeta import checks, tasks  # noqa: F401 (registers the system check and run_snapshot)
        from tenants.signals import tenant_created, tenant_repair

        tenant_created.connect(seeding.seed_tenant_receiver, dispatch_uid="mlmeta.seed_tenant")
        tenant_repair.connect(seeding.seed_tenant_receiver, dispatch_uid="mlmeta.repair_tenant")
        triggers.connect()
