"""From validated OpenID Connect claims to an MLMeta user: map the claims, find the user (by the
provider's subject, then by e-mail) or create them, let the provider's groups decide the teams the
mapping governs, and hand over the organization's pending invitations for their e-mail address.

Refusals raise SSORefused with a reason code (kept in the audit event) and a message for the page.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from tenants import access, audit, rbac
from tenants.models import Invitation, Membership, OrganizationSSO, RoleAssignment, SSOIdentity, Team, User


class SSORefused(Exception):
    def __init__(self, reason: str, message: str, status: int = 403):
        super().__init__(message)
        self.reason, self.message, self.status = reason, message, status


@dataclass(frozen=True)
class SSOClaims:
    subject: str
    email: str
    name: str
    groups: tuple[str, ...]


def map_claims(sso: OrganizationSSO, claims: dict) -> SSOClaims:
    """The claims the organization's mapping names; refuses sign-ins without a subject or a
    usable, verified e-mail address."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise SSORefused("missing_subject", "The identity provider sent no subject ('sub') for this account.", 400)
    email = claims.get(sso.email_claim)
    if not isinstance(email, str) or "@" not in email.strip("@"):
        raise SSORefused(
            "missing_email", f"The identity provider sent no e-mail address (claim '{sso.email_claim}').", 400
        )
    if claims.get("email_verified") is False:
        raise SSORefused("email_not_verified", "The identity provider has not verified this e-mail address.")
    name = claims.get(sso.name_claim)
    return SSOClaims(
        subject=subject,
        email=email.strip().lower(),
        name=name.strip()[:255] if isinstance(name, str) else "",
        groups=_groups(claims.get(sso.groups_claim) if sso.groups_claim else None),
    )


def _groups(value) -> tuple[str, ...]:
    """A provider's groups claim: a list of names, a single name, or absent (no groups)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(str(g) for g in value if isinstance(g, (str, int)))
    return ()


def sign_in(sso: OrganizationSSO, claims: SSOClaims, request=None) -> tuple[User, bool]:
    """The user these claims sign in as, with teams and invitations applied; someone unknown is
    created when JIT provisioning is on or an invitation for their e-mail address is pending.
    Returns (user, created); raises SSORefused."""
    if not sso.allows_email(claims.email):
        raise SSORefused(
            "domain_not_allowed", f"E-mail addresses at {claims.email.rpartition('@')[2]} may not sign in."
        )
    with transaction.atomic():
        user = find_user(sso, claims)
        created = user is None
        if created:
            if not (sso.jit_provisioning or _pending(sso, claims.email).exists()):
                raise SSORefused("unknown_user", "There is no account for this e-mail address; ask an administrator.")
            user = create_user(sso, claims)
        _check_usable(user)
        _link(sso, user, claims)
        _update_profile(user, claims)
        sync_teams(sso, user, claims.groups, request)
        accept_invitations(sso, user, request)
        if created:
            give_default_role(sso, user)
    rbac.forget(user)
    return user, created


def find_user(sso: OrganizationSSO, claims: SSOClaims) -> User | None:
    """By the provider's subject if linked before, else by e-mail among the organization's people.

    An account of nobody in this organization is never taken over by e-mail: an organization's
    provider must not sign in as a user of another organization (or an operator)."""
    identity = SSOIdentity.objects.filter(sso=sso, subject=claims.subject).select_related("user").first()
    if identity is not None:
        return identity.user
    matches = list(User.objects.filter(email__iexact=claims.email, is_service_account=False)[:2])
    if not matches:
        return None
    if len(matches) > 1:
        raise SSORefused("ambiguous_email", "Several accounts share this e-mail address; ask an administrator.", 409)
    user = matches[0]
    if not belongs_to(user, sso.organization_id):
        raise SSORefused(
            "account_elsewhere",
            "An account with this e-mail address exists outside this organization; sign in with its password.",
        )
    return user


def belongs_to(user: User, organization_id) -> bool:
    """Whether `user` is one of the organization's people: a role, a team or a tenant membership."""
    return (
        RoleAssignment.objects.filter(user=user, organization_id=organization_id).exists()
        or Team.objects.filter(members=user, organization_id=organization_id).exists()
        or Membership.objects.filter(member=user, tenant__organization_id=organization_id).exists()
    )


def _check_usable(user: User) -> None:
    if not user.is_active:
        raise SSORefused("inactive_user", "This account is deactivated.")
    if user.is_superuser:
        raise SSORefused("superuser", "Operators (superusers) sign in with their password, not through SSO.")


def create_user(sso: OrganizationSSO, claims: SSOClaims) -> User:
    """A new person, named after their e-mail address, without a usable password."""
    username = _free_username(claims.email)
    user = User(username=username, email=claims.email, full_name=claims.name)
    user.set_unusable_password()
    user.save()
    audit.record(
        "create", actor=user, obj=user, organization=sso.organization, via="sso", changes={"email": claims.email}
    )
    return user


def _free_username(email: str) -> str:
    base = email[:140]
    taken = set(User.objects.filter(username__startswith=base).values_list("username", flat=True))
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)


def _link(sso: OrganizationSSO, user: User, claims: SSOClaims) -> None:
    SSOIdentity.objects.update_or_create(
        sso=sso, subject=claims.subject, defaults={"user": user, "last_login": timezone.now()}
    )


def _update_profile(user: User, claims: SSOClaims) -> None:
    """The provider is the source of the e-mail address and name of its users."""
    changed = {}
    if user.email.lower() != claims.email:
        changed["email"] = claims.email
    if claims.name and user.full_name != claims.name:
        changed["full_name"] = claims.name
    for field, value in changed.items():
        setattr(user, field, value)
    if changed:
        user.save(update_fields=[*changed, "updated"])


def sync_teams(sso: OrganizationSSO, user: User, groups, request=None) -> dict[str, list[str]]:
    """Add `user` to the teams their groups map to and remove them from the other teams the mapping
    names (teams it does not name are left alone). Returns {"added": [...], "removed": [...]}."""
    governed = sso.governed_teams
    wanted = {name for group in groups for name in sso.teams_of(group)}
    current = set(user.teams.filter(organization_id=sso.organization_id).values_list("name", flat=True))
    result = {"added": [], "removed": []}
    for team in Team.objects.filter(organization_id=sso.organization_id, name__in=governed):
        if team.name in wanted and team.name not in current:
            team.members.add(user)
            result["added"].append(team.name)
        elif team.name not in wanted and team.name in current:
            team.members.remove(user)
            result["removed"].append(team.name)
        else:
            continue
        change = "members_added" if team.name in wanted else "members_removed"
        audit.record("update", request=request, actor=user, obj=team, via="sso", changes={change: [user.username]})
    return result


def accept_invitations(sso: OrganizationSSO, user: User, request=None) -> list[Invitation]:
    """The organization's pending invitations for the user's e-mail address: their role
    assignments move to the user, their teams are joined, and they are marked accepted."""
    accepted = []
    for invitation in _pending(sso, user.email).select_for_update():
        for assignment in invitation.role_assignments.select_related("role", "organization", "tenant", "project"):
            access.assign_role(
                assignment.role,
                user=user,
                organization=assignment.organization,
                tenant=assignment.tenant,
                project=assignment.project,
                resource_type=assignment.resource_type,
                resource_id=assignment.resource_id,
                by=invitation.invited_by,
            )
        invitation.role_assignments.all().delete()
        user.teams.add(*invitation.teams.all())
        invitation.accepted, invitation.accepted_by = timezone.now(), user
        invitation.save(update_fields=["accepted", "accepted_by", "updated"])
        audit.record("update", request=request, actor=user, obj=invitation, via="sso", changes={"accepted": True})
        accepted.append(invitation)
    return accepted


def _pending(sso: OrganizationSSO, email: str):
    return Invitation.objects.filter(
        organization_id=sso.organization_id, email__iexact=email, accepted=None, expires__gt=timezone.now()
    )


def give_default_role(sso: OrganizationSSO, user: User) -> None:
    """The role the organization gives accounts created at sign-in (none configured: none)."""
    if sso.default_role is None:
        return
    if sso.default_role.level == "tenant":
        if sso.default_tenant is not None:
            access.assign_role(sso.default_role, user=user, tenant=sso.default_tenant)
        return
    access.assign_role(sso.default_role, user=user, organization=sso.organization)
