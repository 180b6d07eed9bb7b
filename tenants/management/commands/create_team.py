from django.core.management.base import CommandError
from django.db import transaction

from core.commands import BaseCommand
from tenants import access
from tenants.management import lookups
from tenants.models import Team


class Command(BaseCommand):
    help = "Create a team of an organization, optionally with members; give it roles with `assign_role --team`."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--organization", metavar="SLUG", required=True)
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--member", dest="members", metavar="USERNAME", action="append", default=[], help="Repeat for several."
        )

    def handle(self, *args, name, organization, description, members, **options):
        org = lookups.organization(organization)
        if Team.objects.filter(organization=org, name=name).exists():
            raise CommandError(f"Organization '{org.slug}' already has a team named '{name}'.")
        users = [lookups.user(username) for username in dict.fromkeys(members)]
        with transaction.atomic():
            team = access.create_team(org, name, description=description, members=users)
        count = f" with {len(users)} member(s)" if users else ""
        self.stdout.write(self.style.SUCCESS(f"Created team '{name}' in '{org.slug}'{count} ({team.pk})."))
