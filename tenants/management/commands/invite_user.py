from django.conf import settings
from django.core.management.base import CommandError

from core.commands import BaseCommand
from tenants import access
from tenants.management import lookups


class Command(BaseCommand):
    help = (
        "Invite someone by e-mail to an organization, holding a role (organization role alone; "
        "tenant role with --tenant; project role with --tenant and --project) and teams until they "
        "accept. Prints the invitation link once: the token in it is not stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--organization", metavar="SLUG", required=True)
        parser.add_argument("--role", metavar="ROLE_SLUG")
        parser.add_argument("--tenant", metavar="SLUG")
        parser.add_argument("--project", metavar="NAME", help="A project of --tenant.")
        parser.add_argument("--team", dest="teams", metavar="NAME", action="append", default=[])
        parser.add_argument("--days", type=int, default=7, help="How long the link works (default: %(default)s).")

    def handle(self, *args, email, organization, role, tenant, project, teams, days, **options):
        org = lookups.organization(organization)
        if (tenant or project) and not role:
            raise CommandError("--tenant and --project say where --role applies: name a --role.")
        if project and not tenant:
            raise CommandError("--project needs --tenant.")
        if days < 1:
            raise CommandError("--days must be at least 1.")
        roles = [self.role_spec(org, role, tenant, project)] if role else []
        found_teams = [lookups.team(org, name) for name in dict.fromkeys(teams)]
        invitation, token = access.invite(org, email, roles=roles, teams=found_teams, days=days)
        self.stderr.write(f"Invited {email} to '{org.slug}' ({invitation.pk}); the link is shown only now:")
        self.stdout.write(f"{settings.SERVER_URL}/invitations/{token}/")

    def role_spec(self, org, slug, tenant, project) -> dict:
        found_tenant = lookups.tenant(tenant, org) if tenant else None
        found_project = lookups.project(found_tenant, project) if project else None
        level = "project" if project else "tenant" if tenant else "organization"
        return {"role": lookups.role(slug, org, level), "tenant": found_tenant, "project": found_project}
