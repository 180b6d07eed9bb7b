from django.core.management.base import CommandError

from core.commands import BaseCommand
from tenants import access
from tenants.management import lookups
from tenants.models import RoleAssignment


class Command(BaseCommand):
    help = (
        "Give a role to a user or a team (or take it back with --revoke) at organization, tenant "
        "or project scope: --organization SLUG for an organization role, --tenant SLUG for a tenant "
        "role, --tenant SLUG --project NAME for a project role. The role's level must match the scope."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", metavar="ROLE_SLUG")
        subject = parser.add_mutually_exclusive_group(required=True)
        subject.add_argument("--user", metavar="USERNAME")
        subject.add_argument("--team", metavar="NAME", help="A team of the scope's organization.")
        parser.add_argument("--organization", metavar="SLUG")
        parser.add_argument("--tenant", metavar="SLUG")
        parser.add_argument("--project", metavar="NAME", help="A project of --tenant.")
        parser.add_argument("--revoke", action="store_true", help="Remove the assignment instead.")

    def handle(self, *args, role, user, team, organization, tenant, project, revoke, **options):
        scope = self.scope(organization, tenant, project)
        org = scope["organization"]
        level = "project" if scope["project"] else "tenant" if scope["tenant"] else "organization"
        found = lookups.role(role, org, level)
        subject = {"user": lookups.user(user)} if user else {"team": lookups.team(org, team)}
        where = scope["project"] or scope["tenant"] or org
        who = user or f"team {team}"
        if revoke:
            self.revoke(found, subject, scope, f"{role} of {who} at {level} '{where}'")
            return
        _, created = access.assign_role(found, **subject, **scope)
        verb = "Assigned" if created else "Already assigned:"
        self.stdout.write(self.style.SUCCESS(f"{verb} {role} to {who} at {level} '{where}'."))

    def scope(self, organization, tenant, project) -> dict:
        if project and not tenant:
            raise CommandError("--project needs --tenant.")
        if not (organization or tenant):
            raise CommandError("Name the scope: --organization SLUG, --tenant SLUG or --tenant SLUG --project NAME.")
        org = lookups.organization(organization) if organization else None
        if tenant:
            found = lookups.tenant(tenant, org)
            return {
                "organization": found.organization,
                "tenant": found,
                "project": lookups.project(found, project) if project else None,
            }
        return {"organization": org, "tenant": None, "project": None}

    def revoke(self, role, subject, scope, label) -> None:
        assignment = RoleAssignment.objects.filter(
            role=role, resource_type="", resource_id=None, **subject, **scope
        ).first()
        if assignment is None:
            raise CommandError(f"No such assignment: {label}.")
        access.revoke(assignment)
        self.stdout.write(self.style.SUCCESS(f"Revoked {label}."))
