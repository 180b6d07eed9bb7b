from django.core.management.base import CommandError
from django.db import transaction

from core.commands import BaseCommand
from tenants import access
from tenants.management import lookups


class Command(BaseCommand):
    help = (
        "Create a service account of an organization (it logs in with API keys only: "
        "`manage.py create_api_key NAME KEYNAME`), optionally with a tenant role."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--organization", metavar="SLUG", required=True)
        parser.add_argument("--description", default="")
        parser.add_argument("--tenant", metavar="SLUG", help="Give the account --role in this tenant.")
        parser.add_argument("--role", metavar="ROLE_SLUG", help="A tenant role (with --tenant).")

    def handle(self, *args, name, organization, description, tenant, role, **options):
        org = lookups.organization(organization)
        if bool(tenant) != bool(role):
            raise CommandError("--tenant and --role go together.")
        found_tenant = lookups.tenant(tenant, org) if tenant else None
        found_role = lookups.role(role, org, "tenant") if role else None
        with transaction.atomic():
            account = access.create_service_account(org, name, description=description)
            if found_tenant is not None:
                access.assign_role(found_role, user=account, tenant=found_tenant)
        where = f" with {role} in '{tenant}'" if tenant else ""
        done = f"Created service account '{name}' in '{org.slug}'{where} ({account.pk})."
        self.stdout.write(self.style.SUCCESS(done))
