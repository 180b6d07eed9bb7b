from django.conf import settings
from django.core.management.base import CommandError
from tqdm import tqdm

from core.commands import BaseCommand
from secrets_app import relocation
from secrets_app.backends import BackendUnavailable
from secrets_app.choices import BackendRole
from secrets_app.models import Secret
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Move every secret value of a tenant to another backend with no downtime: copy each value to the "
        "target and read it back, switch the tenant to the target, then delete the values from the old "
        "backend. Meanwhile every secret stays readable and writes go to both. An interrupted run carries "
        "on when started again. A target that needs settings (openbao) needs a secret backend "
        "configuration with role 'target' first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="SLUG", required=True, help="The tenant whose secrets move.")
        parser.add_argument("--to", metavar="BACKEND", required=True, help="A backend name of SECRETS_BACKENDS.")
        parser.add_argument(
            "--keep-source", action="store_true", help="Leave the values in the old backend after the switch."
        )

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"Tenant '{options['tenant']}' does not exist.")
        target_name = options["to"]
        if target_name not in settings.SECRETS_BACKENDS:
            raise CommandError(f"Unknown backend '{target_name}'; one of: {', '.join(settings.SECRETS_BACKENDS)}.")
        self.verbosity = options["verbosity"]
        try:
            self.migrate(tenant, target_name, not options["keep_source"])
        except relocation.RelocationError as exc:
            raise CommandError(str(exc)) from None
        except BackendUnavailable as exc:
            raise CommandError(f"{exc} Every secret is still readable; run the command again to carry on.") from None

    def migrate(self, tenant, target_name: str, delete_source: bool):
        self.retire(tenant, delete_source)  # a previous run stopped after its switch
        tenant.refresh_from_db()
        if tenant.secrets_backend == target_name and relocation.config(tenant, BackendRole.TARGET) is None:
            self.stdout.write(f"Tenant '{tenant.slug}' keeps its secret values in '{target_name}'.")
            return
        source_name = tenant.secrets_backend
        target = relocation.prepare(tenant, target_name)
        with self.bar(tenant, "copy") as bar:
            copied = relocation.copy_all(tenant, target, bar.update)
        relocation.switch(tenant, target)
        self.stdout.write(f"Copied {copied} secrets to '{target_name}', read them back, switched from '{source_name}'.")
        self.retire(tenant, delete_source)
        self.stdout.write(self.style.SUCCESS(f"Tenant '{tenant.slug}' keeps its secret values in '{target_name}'."))

    def retire(self, tenant, delete_source: bool):
        retired = relocation.config(tenant, BackendRole.RETIRED)
        if retired is None:
            return
        with self.bar(tenant, "delete from source") as bar:
            deleted = relocation.retire(tenant, delete_source, bar.update)
        self.stdout.write(f"Deleted the values of {deleted} secrets from the old backend '{retired.backend}'.")

    def bar(self, tenant, description: str):
        total = Secret.objects.filter(tenant=tenant).count()
        return tqdm(total=total, desc=description, unit="secret", disable=None if self.verbosity < 2 else False)
