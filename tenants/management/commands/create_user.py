import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import transaction

from core.commands import BaseCommand
from tenants import access, audit
from tenants.management import lookups
from tenants.models import Membership, Tenant, User


class Command(BaseCommand):
    help = (
        "Create a user who can log in to the dashboard and with `zenml login`, optionally as a "
        "member of one or more tenants. The password must pass the configured password validators. "
        "With --update, an existing user gets the new password (if given), superuser status (if "
        "--superuser) and the extra memberships instead of an error. --role gives tenant roles in "
        "every --tenant (project roles with --project NAME, in that project of each tenant), "
        "--org-role organization roles (in --organization, or the tenants' organization)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--password",
            help="The password; '-' reads it from the first line of stdin (keeps it out of the process list).",
        )
        parser.add_argument(
            "--tenant",
            dest="tenants",
            metavar="SLUG",
            action="append",
            default=[],
            help="Make the user a member of this tenant; repeat for several.",
        )
        parser.add_argument(
            "--role",
            dest="roles",
            metavar="ROLE_SLUG",
            action="append",
            default=[],
            help="A tenant role in each --tenant, or a project role with --project; repeat for several "
            "(default for a new member: tenant-developer).",
        )
        parser.add_argument("--project", metavar="NAME", help="Where project roles (--role project-...) apply.")
        parser.add_argument(
            "--org-role",
            dest="org_roles",
            metavar="ROLE_SLUG",
            action="append",
            default=[],
            help="An organization role.",
        )
        parser.add_argument("--organization", metavar="SLUG", help="Where --org-role applies (default: the tenants').")
        parser.add_argument("--superuser", action="store_true", help="Operator of the whole deployment.")
        parser.add_argument("--email", default="", help="E-mail address.")
        parser.add_argument("--update", action="store_true", help="Update the user if it exists.")

    def handle(self, *args, username, password, tenants, superuser, email, update, **options):
        tenant_objs = self.resolve_tenants(tenants)
        grants = self.resolve_grants(tenant_objs, options)
        if password == "-":
            password = sys.stdin.readline().rstrip("\n")
        user = User.objects.filter(username=username).first()
        if user is not None and not update:
            raise CommandError(f"User '{username}' already exists (pass --update to change it).")
        if user is None and not password:
            raise CommandError("A new user needs --password.")
        with transaction.atomic():
            created = user is None
            user = user or User(username=username)
            self.apply(user, password=password, superuser=superuser, email=email)
            audit.command("create" if created else "update", user, "create_user", changes=self.changes(user, superuser))
            for tenant in tenant_objs:
                if not grants["roles"] and not Membership.objects.filter(tenant=tenant, member=user).exists():
                    access.add_member(tenant, user)
            for role, scope in grants["assignments"]:
                access.assign_role(role, user=user, **scope)
        verb = "Created" if created else "Updated"
        where = f" in {', '.join(t.slug for t in tenant_objs)}" if tenant_objs else ""
        self.stdout.write(self.style.SUCCESS(f"{verb} user '{username}'{where}."))

    def resolve_grants(self, tenant_objs: list[Tenant], options) -> dict:
        """The (role, scope) pairs asked for, checked before anything is written."""
        roles, project, org_roles = options["roles"], options["project"], options["org_roles"]
        if (roles or project) and not tenant_objs:
            raise CommandError("--role and --project need --tenant.")
        orgs = {t.organization_id: t.organization for t in tenant_objs}
        if options["organization"]:
            org = lookups.organization(options["organization"])
        elif org_roles and len(orgs) != 1:
            raise CommandError("--org-role needs --organization (or tenants of a single organization).")
        else:
            org = next(iter(orgs.values()), None)
        assignments = [(lookups.role(slug, org, "organization"), {"organization": org}) for slug in org_roles]
        for slug in dict.fromkeys(roles):
            assignments += self.role_assignments(slug, tenant_objs, project)
        if project and not any("project" in scope for _, scope in assignments):
            raise CommandError("--project needs a project role (--role project-...).")
        return {"roles": roles, "assignments": assignments}

    def role_assignments(self, slug: str, tenant_objs: list[Tenant], project: str | None) -> list:
        level = "project" if project else "tenant"
        pairs = []
        for tenant in tenant_objs:
            role = lookups.role(slug, tenant.organization, level)
            scope = {"project": lookups.project(tenant, project)} if project else {"tenant": tenant}
            pairs.append((role, scope))
        return pairs

    @staticmethod
    def changes(user: User, superuser: bool) -> dict:
        return {"username": user.username, "email": user.email, "is_superuser": user.is_superuser or superuser}

    def resolve_tenants(self, slugs: list[str]) -> list[Tenant]:
        found = {t.slug: t for t in Tenant.objects.filter(slug__in=slugs)}
        unknown = [slug for slug in slugs if slug not in found]
        if unknown:
            raise CommandError(f"Unknown tenant: {', '.join(unknown)}.")
        return [found[slug] for slug in dict.fromkeys(slugs)]

    def apply(self, user: User, *, password: str | None, superuser: bool, email: str) -> None:
        if email:
            user.email = email
        if superuser:
            user.is_superuser = user.is_staff = True
        user.full_clean(exclude=["password"])
        if password:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError(f"password: {' '.join(exc.messages)}") from exc
            user.set_password(password)
        user.save()
