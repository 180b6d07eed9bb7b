import re

from django.core.exceptions import ValidationError
from django.db import models

from core.models import BaseModel
from tenants import crypto
from tenants.querysets import OrganizationOwnedQuerySet

__all__ = ["OrganizationSSO", "SSOIdentity"]

DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def validate_group_teams(value) -> None:
    if not isinstance(value, dict) or not all(isinstance(k, str) and k for k in value):
        raise ValidationError('The group mapping is a JSON object: {"provider group": ["team name", ...]}.')
    for group, teams in value.items():
        names = [teams] if isinstance(teams, str) else teams
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise ValidationError(f"Group '{group}' must map to a team name or a list of team names.")


class OrganizationSSO(BaseModel):
    """An organization's OpenID Connect single sign-on: which provider (issuer, client), how its
    claims map onto MLMeta users and teams, and whether unknown users are created at first login.

    The client secret is stored sealed (tenants.crypto) and never shown back.
    """

    organization = models.OneToOneField("tenants.Organization", on_delete=models.CASCADE, related_name="sso")
    enabled = models.BooleanField(default=False)
    issuer = models.URLField(
        max_length=1024, help_text="The provider's issuer URL: its /.well-known/openid-configuration lives below it."
    )
    client_id = models.CharField(max_length=255)
    client_secret_sealed = models.TextField(blank=True, editable=False)
    scopes = models.CharField(max_length=255, default="openid email profile")
    email_claim = models.CharField(max_length=64, default="email")
    name_claim = models.CharField(max_length=64, default="name")
    groups_claim = models.CharField(max_length=64, default="groups", blank=True)
    group_teams = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_group_teams],
        help_text='Provider group → team names, e.g. {"ml": ["Engineers"]}: they follow the groups.',
    )
    jit_provisioning = models.BooleanField(
        default=True, help_text="Create an account at the first sign-in of someone unknown."
    )
    allowed_domains = models.TextField(
        blank=True, help_text="E-mail domains allowed to sign in, separated by commas or spaces; empty allows any."
    )
    default_role = models.ForeignKey(
        "tenants.Role",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="For accounts created at sign-in: an organization role, or a tenant role and tenant.",
    )
    default_tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = OrganizationOwnedQuerySet.as_manager()
    rbac_type = "organization"

    class Meta(BaseModel.Meta):
        verbose_name = "organization single sign-on"
        verbose_name_plural = "organization single sign-on"

    def __str__(self):
        return f"Single sign-on of {self.organization}"

    @property
    def client_secret(self) -> str:
        """The plaintext secret; raises crypto.InvalidToken if SECRET_KEY changed since it was set."""
        return crypto.open_(self.client_secret_sealed) if self.client_secret_sealed else ""

    @client_secret.setter
    def client_secret(self, value: str) -> None:
        self.client_secret_sealed = crypto.seal(value) if value else ""

    @property
    def domains(self) -> list[str]:
        return [d.lower().lstrip("@") for d in re.split(r"[\s,]+", self.allowed_domains or "") if d]

    def allows_email(self, email: str) -> bool:
        domain = email.rpartition("@")[2].lower()
        return not self.domains or domain in self.domains

    @property
    def governed_teams(self) -> set[str]:
        """Names of the teams whose membership the provider's groups decide."""
        return {name for group in self.group_teams for name in self.teams_of(group)}

    def teams_of(self, group: str) -> list[str]:
        names = self.group_teams.get(group, [])
        return [names] if isinstance(names, str) else list(names)

    def clean(self):
        errors = {}
        bad = [d for d in self.domains if not DOMAIN.match(d)]
        if bad:
            errors["allowed_domains"] = f"Not a domain: {', '.join(bad)}."
        if "openid" not in self.scopes.split():
            errors["scopes"] = "The scopes must include 'openid'."
        if self.organization_id and isinstance(self.group_teams, dict):
            missing = self._unknown_teams()
            if missing:
                errors["group_teams"] = f"No team named {', '.join(sorted(missing))} in this organization."
        errors.update(self._role_errors())
        if errors:
            raise ValidationError(errors)

    def _unknown_teams(self) -> set[str]:
        try:
            wanted = self.governed_teams
        except (AttributeError, TypeError):
            return set()
        known = set(self.organization.teams.filter(name__in=wanted).values_list("name", flat=True))
        return wanted - known

    def _role_errors(self) -> dict:
        role, tenant = self.default_role, self.default_tenant
        if role is None:
            return {"default_tenant": "A default tenant needs a default role."} if tenant else {}
        if role.organization_id not in (None, self.organization_id):
            return {"default_role": "This role belongs to another organization."}
        if tenant is not None and tenant.organization_id != self.organization_id:
            return {"default_tenant": "This tenant belongs to another organization."}
        if role.level == "tenant" and tenant is None:
            return {"default_tenant": "A tenant role needs the tenant it applies to."}
        if role.level not in ("tenant", "organization"):
            return {"default_role": "Choose an organization or a tenant role."}
        if role.level == "organization" and tenant is not None:
            return {"default_tenant": "An organization role applies to no single tenant: leave the tenant empty."}
        return {}


class SSOIdentity(BaseModel):
    """The link between a provider's subject (`sub`) and an MLMeta user: later sign-ins find the
    user by it even when their e-mail address changes."""

    sso = models.ForeignKey(OrganizationSSO, on_delete=models.CASCADE, related_name="identities")
    subject = models.CharField(max_length=255)
    user = models.ForeignKey("tenants.User", on_delete=models.CASCADE, related_name="sso_identities")
    last_login = models.DateTimeField(null=True, blank=True)

    objects = OrganizationOwnedQuerySet.as_manager()
    rbac_type = "organization"
    rbac_shape = {
        "type": "organization",
        "tenant": None,
        "org": "sso__organization_id",
        "project": None,
        "owner": None,
        "ident": None,
        "many": False,
    }

    class Meta(BaseModel.Meta):
        verbose_name_plural = "SSO identities"
        constraints = [models.UniqueConstraint(fields=["sso", "subject"], name="sso_identity_unique_subject")]

    def __str__(self):
        return f"{self.user} as {self.subject}"
