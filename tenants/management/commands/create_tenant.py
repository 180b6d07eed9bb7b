from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction

from core.commands import BaseCommand
from tenants import access, audit, services
from tenants.management import lookups
from tenants.models import Organization, Tenant
from tenants.roles import ADMIN_TENANT_ROLE


class Command(BaseCommand):
    help = (
        "Create a tenant (a ZenML workspace, served at /t/SLUG/) with its default project, default "
        "stack and built-in flavors. The tenant joins organization 'default' unless --organization "
        "names another, existing one; the default organization is created if missing. "
        "With --admin, an existing user becomes its tenant admin. Add members with "
        "`manage.py create_user --tenant SLUG`."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="URL name: lowercase letters, digits, '-' and '_'.")
        parser.add_argument("--name", help="Display name (default: the slug).")
        parser.add_argument(
            "--organization",
            metavar="SLUG",
            default=services.DEFAULT_ORGANIZATION,
            help="Slug of an existing organization (default: %(default)s, created if missing).",
        )
        parser.add_argument("--admin", metavar="USERNAME", help="An existing user to make the tenant's admin.")

    def handle(self, *args, slug, name, organization, admin, **options):
        if Tenant.objects.filter(slug=slug).exists():
            raise CommandError(f"A tenant with slug '{slug}' already exists.")
        admin_user = lookups.user(admin) if admin else None
        with transaction.atomic():
            tenant = services.create_tenant(slug, name=name, organization=self.organization(organization))
            audit.command("create", tenant, "create_tenant", changes={"slug": slug, "name": tenant.name})
            if admin_user is not None:
                access.assign_role(ADMIN_TENANT_ROLE, user=admin_user, tenant=tenant)
        self.stdout.write(
            self.style.SUCCESS(f"Created tenant '{tenant.slug}' ({tenant.id}) in organization '{organization}'")
            + f" with project, stack and flavors; its API is at {settings.SERVER_URL}{tenant.url_prefix}/api/v1"
        )

    def organization(self, slug: str) -> Organization:
        if slug == services.DEFAULT_ORGANIZATION:
            return services.default_organization()
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            raise CommandError(f"Organization '{slug}' does not exist.")
        return org
