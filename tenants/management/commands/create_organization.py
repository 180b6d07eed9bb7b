from django.core.management.base import CommandError

from core.commands import BaseCommand
from tenants import audit
from tenants.models import Organization


class Command(BaseCommand):
    help = (
        "Create an organization: the owner of tenants, users, teams, roles and service accounts. "
        "Add tenants with `manage.py create_tenant SLUG --organization ORG`."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="URL name: lowercase letters, digits, '-' and '_'.")
        parser.add_argument("--name", help="Display name (default: the slug).")

    def handle(self, *args, slug, name, **options):
        if Organization.objects.filter(slug=slug).exists():
            raise CommandError(f"An organization with slug '{slug}' already exists.")
        org = Organization(slug=slug, name=name or slug)
        org.full_clean()
        org.save()
        audit.command("create", org, "create_organization", organization=org, changes={"slug": slug, "name": org.name})
        self.stdout.write(self.style.SUCCESS(f"Created organization '{slug}' ({org.pk})."))
