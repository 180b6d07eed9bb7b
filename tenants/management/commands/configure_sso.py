import sys

from django.core.management.base import CommandError
from django.db import transaction

from core.commands import BaseCommand
from tenants import access, audit
from tenants.models import Organization, OrganizationSSO, Tenant


class Command(BaseCommand):
    help = (
        "Set up (or change) an organization's OpenID Connect single sign-on. Options not given keep "
        "their current value. The client secret is read from stdin with --client-secret - and never printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", metavar="ORG_SLUG")
        parser.add_argument("--issuer", help="The provider's issuer URL (discovery below /.well-known/...).")
        parser.add_argument("--client-id")
        parser.add_argument("--client-secret", help="'-' reads it from the first line of stdin.")
        parser.add_argument("--scopes", help="Default: 'openid email profile'.")
        parser.add_argument("--email-claim")
        parser.add_argument("--name-claim")
        parser.add_argument("--groups-claim")
        parser.add_argument(
            "--map-group",
            action="append",
            default=None,
            metavar="GROUP=TEAM",
            help="A provider group whose members join the team; repeat for several (replaces the mapping).",
        )
        parser.add_argument("--allowed-domains", help="E-mail domains allowed to sign in, comma separated.")
        parser.add_argument("--jit", choices=("on", "off"), help="Create unknown users at their first sign-in.")
        parser.add_argument("--default-role", metavar="ROLE_SLUG", help="Role of users created at sign-in.")
        parser.add_argument("--default-tenant", metavar="SLUG", help="The tenant of a tenant --default-role.")
        parser.add_argument("--enable", dest="enabled", action="store_true", default=None)
        parser.add_argument("--disable", dest="enabled", action="store_false")

    def handle(self, *args, organization, **options):
        org = Organization.objects.filter(slug=organization).first()
        if org is None:
            raise CommandError(f"No organization '{organization}'.")
        sso = OrganizationSSO.objects.filter(organization=org).first() or OrganizationSSO(organization=org)
        created = sso._state.adding
        self.apply(sso, org, options)
        if not sso.client_secret_sealed:
            raise CommandError("A client secret is needed: --client-secret - reads it from stdin.")
        with transaction.atomic():
            sso.full_clean()
            sso.save()
            changed = {k: v for k, v in options.items() if k in FIELDS and v is not None}
            audit.record("create" if created else "update", obj=sso, organization=org, changes=changed)
        state = "enabled" if sso.enabled else "disabled"
        self.stdout.write(self.style.SUCCESS(f"Single sign-on of '{org.slug}' {state}: issuer {sso.issuer}."))

    def apply(self, sso: OrganizationSSO, org: Organization, options: dict) -> None:
        for option, field in FIELDS.items():
            if options.get(option) is not None:
                setattr(sso, field, options[option])
        if options["jit"] is not None:
            sso.jit_provisioning = options["jit"] == "on"
        if options["map_group"] is not None:
            sso.group_teams = parse_mapping(options["map_group"])
        if options["default_role"]:
            sso.default_role = access.find_role(options["default_role"], org)
        if options["default_tenant"]:
            sso.default_tenant = Tenant.objects.filter(slug=options["default_tenant"]).first()
            if sso.default_tenant is None:
                raise CommandError(f"No tenant '{options['default_tenant']}'.")
        secret = options["client_secret"]
        if secret == "-":
            secret = sys.stdin.readline().strip()
        if secret:
            sso.client_secret = secret


FIELDS = {
    "issuer": "issuer",
    "client_id": "client_id",
    "scopes": "scopes",
    "email_claim": "email_claim",
    "name_claim": "name_claim",
    "groups_claim": "groups_claim",
    "allowed_domains": "allowed_domains",
    "enabled": "enabled",
}


def parse_mapping(pairs: list[str]) -> dict[str, list[str]]:
    mapping: dict[str, list[str]] = {}
    for pair in pairs:
        group, sep, team = pair.partition("=")
        if not sep or not group.strip() or not team.strip():
            raise CommandError(f"--map-group takes GROUP=TEAM, not '{pair}'.")
        mapping.setdefault(group.strip(), []).append(team.strip())
    return mapping
