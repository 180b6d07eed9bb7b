"""Granting and revoking roles, teams, invitations, service accounts and API keys: the one code
path for the /api/v1 user endpoints, the control-plane API, the admin and the commands.

Two layers:

- `assign_role`, `revoke`, `add_member`, ... apply a change and audit it ("role_assigned" /
  "role_revoked"), trusting the caller (system code, commands run by an operator);
- `grant`, `revoke_assignment`, `create_role`, `update_role`, `add_team_member`, `invite`,
  `issue_api_key`, ... take the acting user (`by`, None for system code) and first apply the
  privilege-escalation rules (`check_grant`, ...). A refusal raises `Refused` (a Django
  PermissionDenied naming the reason) after auditing a "permission_denied" event.

The escalation rules: an actor assigns or revokes a role only with `member:create`/`member:update`
(assign) or `member:update`/`member:delete` (revoke) at that scope AND holding every permission the
role gives there; nobody assigns roles to themselves (directly or through a team they are in) but
operators and org-admins; custom roles are edited with `role:update` in their organization and
never gain a permission the editor lacks there; predefined roles are never edited; an API key's
account creates keys for itself only; a service account's keys are managed only by those holding
every permission the account holds. Operators (superusers) pass every rule.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from tenants import audit, rbac
from tenants.models import (
    APIKey,
    Invitation,
    Membership,
    Organization,
    Project,
    Role,
    RoleAssignment,
    Team,
    Tenant,
    User,
)
from tenants.roles import ADMIN_TENANT_ROLE, BUILTIN_ROLES, DEFAULT_TENANT_ROLE, PROJECT_TYPES


class Refused(PermissionDenied):
    """A change the privilege-escalation rules refuse; `reason` says why (shown to the caller)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def ensure_builtin_roles() -> int:
    """Create or refresh the predefined roles from tenants.roles; returns how many changed."""
    changed = 0
    for slug, (name, level, description, permissions) in BUILTIN_ROLES.items():
        wanted = {"name": name, "level": level, "description": description, "permissions": sorted(permissions)}
        role = Role.objects.filter(organization=None, slug=slug).first()
        if role is None:
            Role.objects.create(organization=None, slug=slug, builtin=True, **wanted)
            changed += 1
        elif any(getattr(role, key) != value for key, value in wanted.items()):
            Role.objects.filter(pk=role.pk).update(**wanted)
            changed += 1
    return changed


def find_role(slug: str, organization: Organization | None = None) -> Role:
    """A predefined role, or a custom role of `organization`, by slug; raises ValidationError."""
    role = Role.objects.filter(organization=organization, slug=slug).first() if organization else None
    role = role or Role.objects.filter(organization=None, slug=slug).first()
    if role is None and slug in BUILTIN_ROLES:
        ensure_builtin_roles()
        role = Role.objects.get(organization=None, slug=slug)
    if role is None:
        raise ValidationError(f"Unknown role '{slug}'.")
    return role


def assign_role(
    role: Role | str,
    *,
    user=None,
    team: Team | None = None,
    invitation=None,
    organization: Organization | None = None,
    tenant: Tenant | None = None,
    project: Project | None = None,
    resource_type: str = "",
    resource_id=None,
    by=None,
    request=None,
) -> tuple[RoleAssignment, bool]:
    """Give `role` to one subject at one scope (organization, tenant, project or a resource).
    Users given a tenant or project role become members of the tenant. Returns (assignment,
    created); assigning twice changes nothing. Raises ValidationError for a mismatched scope."""
    if project is not None:
        tenant = project.tenant
    organization = organization or (tenant.organization if tenant else None)
    if organization is None:
        raise ValidationError("A role assignment needs an organization, a tenant or a project.")
    if isinstance(role, str):
        role = find_role(role, organization)
    scope = {
        "organization": organization,
        "tenant": tenant,
        "project": project,
        "resource_type": resource_type,
        "resource_id": resource_id,
    }
    subject = {"user": user, "team": team, "invitation": invitation}
    with transaction.atomic():
        existing = RoleAssignment.objects.filter(role=role, **subject, **scope).first()
        if existing is not None:
            return existing, False
        assignment = RoleAssignment(role=role, created_by=by, **subject, **scope)
        assignment.full_clean(exclude=["created_by"])
        assignment.save()
        if user is not None and tenant is not None:
            Membership.objects.get_or_create(tenant=tenant, member=user, defaults={"user": by})
        _audit_assignment("role_assigned", assignment, by, request)
    if user is not None:
        rbac.forget(user)
    return assignment, True


def revoke(assignment: RoleAssignment, by=None, request=None) -> None:
    """Remove one role assignment (audited as "role_revoked")."""
    with transaction.atomic():
        _audit_assignment("role_revoked", assignment, by, request)
        assignment.delete()
    if assignment.user is not None:
        rbac.forget(assignment.user)


def describe_assignment(assignment: RoleAssignment) -> dict:
    """The role slug, subject and scope of an assignment, as audit events keep them."""
    subject = assignment.user or assignment.team or assignment.invitation
    kind = "user" if assignment.user_id else "team" if assignment.team_id else "invitation"
    return {
        "role": assignment.role.slug,
        "subject_type": kind,
        "subject_id": str(subject.pk),
        "subject": str(subject),
        "scope": assignment.scope,
        "organization": str(assignment.organization_id),
        "tenant": str(assignment.tenant_id) if assignment.tenant_id else None,
        "project": str(assignment.project_id) if assignment.project_id else None,
        "resource_type": assignment.resource_type or None,
        "resource_id": str(assignment.resource_id) if assignment.resource_id else None,
    }


def _audit_assignment(action: str, assignment: RoleAssignment, by, request) -> None:
    audit.record(
        action,
        request=request,
        actor=by,
        obj=assignment,
        resource_type="role_assignment",
        resource_name=f"{assignment.role.slug} for {assignment.subject}"[:255],
        tenant=assignment.tenant_id,
        organization=assignment.organization_id,
        changes=describe_assignment(assignment),
    )


def add_member(tenant: Tenant, user, role: str | Role | None = None, by=None) -> Membership:
    """Make `user` a member of `tenant` with `role` (a tenant role; developer unless told)."""
    assign_role(role or DEFAULT_TENANT_ROLE, user=user, tenant=tenant, by=by)
    return Membership.objects.get(tenant=tenant, member=user)


def remove_member(tenant: Tenant, user, by=None, request=None) -> None:
    """`user` leaves `tenant`: their membership and every role they hold inside it go (each
    revocation checked against `by` when given, and audited)."""
    assignments = list(RoleAssignment.objects.filter(user=user, tenant=tenant).select_related("role", "project"))
    if by is not None:
        for assignment in assignments:
            check_grant(
                by,
                assignment.role,
                tenant=tenant,
                project=assignment.project,
                resource_type=assignment.resource_type,
                resource_id=assignment.resource_id,
                user=user,
                revoking=True,
                request=request,
            )
    with transaction.atomic():
        for assignment in assignments:
            revoke(assignment, by=by, request=request)
        Membership.objects.filter(tenant=tenant, member=user).delete()
    rbac.forget(user)


def set_tenant_admin(tenant: Tenant, user, is_admin: bool, by=None, request=None) -> None:
    """ZenML's `is_admin` flag for a tenant's user: the tenant-admin role, or a developer's."""
    with transaction.atomic():
        for assignment in RoleAssignment.objects.filter(user=user, tenant=tenant, project=None, resource_id=None):
            revoke(assignment, by=by, request=request)
        assign_role(
            ADMIN_TENANT_ROLE if is_admin else DEFAULT_TENANT_ROLE, user=user, tenant=tenant, by=by, request=request
        )
    rbac.forget(user)


# --- privilege-escalation rules ---------------------------------------------------------------
def _refuse(reason: str, *, by, request=None, resource_type: str = "", resource_id="", organization=None, **extra):
    """Audit a "permission_denied" event naming `reason`, then raise Refused. (Within a request
    the event is written after the request's transactions, so a rollback does not lose it.)"""
    audit.record(
        "permission_denied",
        request=request,
        actor=by,
        resource_type=resource_type,
        resource_id=resource_id,
        organization=organization,
        tenant=extra.get("tenant"),
        changes=extra.get("changes"),
        detail=reason,
    )
    raise Refused(reason)


def _require(ok: bool, reason: str, **context) -> None:
    if not ok:
        _refuse(reason, **context)


def _scope_of(organization=None, tenant=None, project=None) -> tuple:
    """(organization, tenant, project) filled in from the narrowest one given."""
    if project is not None:
        tenant = project.tenant
    if tenant is not None:
        organization = tenant.organization
    if organization is None:
        raise ValidationError("A role assignment needs an organization, a tenant or a project.")
    return organization, tenant, project


def effective_permissions(role: Role, *, project=None, resource_type: str = "", resource_id=None) -> frozenset:
    """What `role` actually grants at a scope (tenants.rbac keeps only these): a resource's own
    type at resource scope, project-scoped types at project scope, everything otherwise."""
    perms = role.permission_set
    if resource_id:
        return frozenset(p for p in perms if p.startswith(f"{resource_type}:"))
    if project is not None:
        return frozenset(p for p in perms if p.partition(":")[0] in (*PROJECT_TYPES, "project"))
    return perms


def _is_self(actor, user=None, team=None) -> bool:
    if user is not None:
        return user.pk == actor.pk
    return team is not None and team.pk and team.members.filter(pk=actor.pk).exists()


def check_grant(
    actor,
    role: Role,
    *,
    organization=None,
    tenant=None,
    project=None,
    resource_type: str = "",
    resource_id=None,
    user=None,
    team=None,
    revoking: bool = False,
    request=None,
) -> None:
    """Raise Refused (audited) unless `actor` may give (or, `revoking`, take back) `role` at this
    scope to `user` or `team` (an invitation: neither). Operators may do anything; the rules are
    in this module's docstring."""
    if rbac.is_operator(actor):
        return
    organization, tenant, project = _scope_of(organization, tenant, project)
    context = {
        "by": actor,
        "request": request,
        "resource_type": "role_assignment",
        "organization": organization.pk,
        "tenant": getattr(tenant, "pk", None),
        "changes": {"role": role.slug, "subject": str(user or team or "invitation")},
    }
    resource = (resource_type, resource_id) if resource_id else None
    held = rbac.held_permissions(actor, organization=organization, tenant=tenant, project=project, resource=resource)
    needed = ("member:update", "member:delete") if revoking else ("member:update", "member:create")
    may_manage = any(p in held for p in needed) or (resource is not None and f"{resource_type}:share" in held)
    _require(may_manage, f"You may not manage the roles at this scope ({' or '.join(needed)} needed).", **context)
    missing = sorted(effective_permissions(role, project=project, **_resource(resource)) - held)
    _require(
        not missing,
        f"Role '{role.slug}' grants permissions you do not hold here: {', '.join(missing[:5])}"
        + (f" and {len(missing) - 5} more." if len(missing) > 5 else "."),
        **context,
    )
    if not revoking and _is_self(actor, user, team):
        _require(
            rbac.is_org_admin(actor, organization),
            "You may not assign roles to yourself (only operators and organization admins may).",
            **context,
        )


def _resource(resource) -> dict:
    return {"resource_type": resource[0], "resource_id": resource[1]} if resource else {}


def grant(
    role: Role | str,
    *,
    by,
    request=None,
    user=None,
    team=None,
    invitation=None,
    organization=None,
    tenant=None,
    project=None,
    resource_type: str = "",
    resource_id=None,
) -> tuple[RoleAssignment, bool]:
    """`assign_role` after `check_grant` (when `by` is a user; None is trusted system code)."""
    organization, tenant, project = _scope_of(organization, tenant, project)
    if isinstance(role, str):
        role = find_role(role, organization)
    scope = {
        "organization": organization,
        "tenant": tenant,
        "project": project,
        "resource_type": resource_type,
        "resource_id": resource_id,
    }
    if by is not None:
        check_grant(by, role, user=user, team=team, request=request, **scope)
    return assign_role(role, user=user, team=team, invitation=invitation, by=by, request=request, **scope)


def revoke_assignment(assignment: RoleAssignment, *, by, request=None) -> None:
    """`revoke` after `check_grant(revoking=True)` (when `by` is a user)."""
    if by is not None:
        check_grant(
            by,
            assignment.role,
            organization=assignment.organization,
            tenant=assignment.tenant,
            project=assignment.project,
            resource_type=assignment.resource_type,
            resource_id=assignment.resource_id,
            user=assignment.user,
            team=assignment.team,
            revoking=True,
            request=request,
        )
    revoke(assignment, by=by, request=request)


def change_tenant_admin(tenant: Tenant, user, is_admin: bool, *, by, request=None) -> None:
    """ZenML's `is_admin` flag changed through the API: `set_tenant_admin` after the same checks
    as assigning the tenant-admin (or developer) role and revoking the roles it replaces."""
    check_tenant_admin_change(tenant, user, is_admin, by=by, request=request)
    set_tenant_admin(tenant, user, is_admin, by=by, request=request)


def check_tenant_admin_change(tenant: Tenant, user, is_admin: bool, *, by, request=None) -> None:
    """Raise Refused (audited) unless `by` may set `user`'s (None: a new user's) `is_admin`.
    Callers inside a transaction call this first, outside it, so the refusal's audit event is
    not rolled back with the transaction."""
    if by is None:
        return
    role = find_role(ADMIN_TENANT_ROLE if is_admin else DEFAULT_TENANT_ROLE)
    check_grant(by, role, tenant=tenant, user=user, request=request)
    if user is None:
        return
    replaced = RoleAssignment.objects.filter(user=user, tenant=tenant, project=None, resource_id=None)
    for old in replaced.exclude(role=role).select_related("role"):
        check_grant(by, old.role, tenant=tenant, user=user, revoking=True, request=request)


# --- custom roles ------------------------------------------------------------------------------
def _check_role_edit(by, organization, action: str, added: set, request, role=None) -> None:
    if by is None or rbac.is_operator(by):
        return
    context = {"by": by, "request": request, "resource_type": "role", "organization": getattr(organization, "pk", None)}
    if role is not None:
        context["resource_id"] = role.pk
    _require(not (role and role.builtin), "Predefined roles cannot be changed.", **context)
    _require(rbac.can(by, action, "role", organization=organization), f"You need role:{action} here.", **context)
    missing = sorted(added - rbac.held_permissions(by, organization=organization))
    _require(
        not missing,
        f"You cannot give a role permissions you do not hold: {', '.join(missing[:5])}"
        + (f" and {len(missing) - 5} more." if len(missing) > 5 else "."),
        **context,
    )


def create_role(
    organization: Organization,
    *,
    name: str,
    slug: str = "",
    base: Role | str | None = None,
    level: str = "",
    add=(),
    remove=(),
    description: str = "",
    by=None,
    request=None,
) -> Role:
    """A custom role of `organization`: the permissions of `base` (a role or slug), plus `add`,
    minus `remove`; its level is the base's unless given. Raises ValidationError or Refused."""
    if isinstance(base, str):
        base = find_role(base, organization)
    permissions = (set(base.permissions) if base else set()) | set(add)
    permissions -= set(remove)
    role = Role(
        organization=organization,
        slug=slug or slugify(name),
        name=name,
        description=description,
        level=level or (base.level if base else ""),
        permissions=sorted(permissions),
    )
    _check_role_edit(by, organization, "create", permissions, request)
    role.full_clean()
    if Role.objects.filter(organization=organization, slug=role.slug).exists() or role.slug in BUILTIN_ROLES:
        raise ValidationError({"slug": f"A role '{role.slug}' exists already."})
    role.save()
    audit.record("create", request=request, actor=by, obj=role, organization=organization, changes=_role_fields(role))
    return role


def update_role(role: Role, *, by=None, request=None, **fields) -> Role:
    """Change a custom role's name, description or permissions (a list); predefined roles and
    permissions the editor lacks are refused. Raises ValidationError or Refused."""
    before = _role_fields(role)
    added = set(fields.get("permissions", role.permissions)) - set(role.permissions)
    _check_role_edit(by, role.organization, "update", added, request, role=role)
    if role.builtin:
        raise Refused("Predefined roles cannot be changed.")
    for name in ("name", "description", "permissions"):
        if name in fields:
            setattr(role, name, sorted(set(fields[name])) if name == "permissions" else fields[name])
    role.full_clean()
    role.save()
    changes = audit.changed_fields(before, _role_fields(role))
    audit.record("update", request=request, actor=by, obj=role, organization=role.organization_id, changes=changes)
    return role


def delete_role(role: Role, *, by=None, request=None) -> None:
    """Delete a custom role and every assignment of it; predefined roles are refused."""
    _check_role_edit(by, role.organization, "delete", set(), request, role=role)
    if role.builtin:
        raise Refused("Predefined roles cannot be changed.")
    audit.record("delete", request=request, actor=by, obj=role, organization=role.organization_id)
    role.delete()


def _role_fields(role: Role) -> dict:
    return {"name": role.name, "description": role.description, "level": role.level, "permissions": role.permissions}


# --- teams -------------------------------------------------------------------------------------
def _check_can(by, action: str, resource_type: str, organization, request, obj=None) -> None:
    """Refuse (audited) unless `by` may `action` `obj` (or create one in `organization`)."""
    if by is None:
        return
    ok = (
        rbac.check(by, action, obj, resource_type)
        if obj is not None
        else rbac.can(by, action, resource_type, organization=organization)
    )
    _require(
        ok,
        f"You need {resource_type}:{action} in this organization.",
        by=by,
        request=request,
        resource_type=resource_type,
        resource_id=getattr(obj, "pk", ""),
        organization=getattr(organization, "pk", organization),
    )


def create_team(organization: Organization, name: str, *, description: str = "", members=(), by=None, request=None):
    """A team of `organization` with `members` (people or service accounts). Raises
    ValidationError (a taken name) or Refused."""
    _check_can(by, "create", "team", organization, request)
    team = Team(organization=organization, name=name, description=description, created_by=by)
    team.full_clean(exclude=["created_by"])
    team.save()
    audit.record("create", request=request, actor=by, obj=team, organization=organization, changes={"name": name})
    for member in members:
        add_team_member(team, member, by=by, request=request)
    return team


def update_team(team: Team, *, by=None, request=None, **fields) -> Team:
    """Change a team's `name` or `description`. Raises ValidationError (a taken name) or Refused."""
    _check_can(by, "update", "team", team.organization, request, obj=team)
    before = {"name": team.name, "description": team.description}
    for name in before:
        if name in fields:
            setattr(team, name, fields[name])
    team.full_clean(exclude=["created_by"])
    team.save()
    changes = audit.changed_fields(before, {"name": team.name, "description": team.description})
    audit.record("update", request=request, actor=by, obj=team, changes=changes)
    return team


def delete_team(team: Team, *, by=None, request=None) -> None:
    """Delete a team: each of its role assignments is revoked (checked as revoking it) first."""
    _check_can(by, "delete", "team", team.organization, request, obj=team)
    assignments = list(team.role_assignments.select_related("role", "organization", "tenant", "project"))
    if by is not None:
        _check_grants(by, assignments, request, revoking=True, team=team)
    members = list(team.members.all())
    with transaction.atomic():
        for assignment in assignments:
            revoke(assignment, by=by, request=request)
        audit.record("delete", request=request, actor=by, obj=team, organization=team.organization_id)
        team.delete()
    for member in members:
        rbac.forget(member)


def _check_grants(by, assignments, request, revoking: bool, **holder) -> None:
    """check_grant for each of `assignments` as given to (or taken from) `holder` (user= or team=)."""
    for assignment in assignments:
        check_grant(
            by,
            assignment.role,
            organization=assignment.organization,
            tenant=assignment.tenant,
            project=assignment.project,
            resource_type=assignment.resource_type,
            resource_id=assignment.resource_id,
            revoking=revoking,
            request=request,
            **holder,
        )


def _check_team_roles(team: Team, user, by, request, revoking: bool = False) -> None:
    """Joining a team gives its roles: the same rules as assigning each of them to `user`."""
    if by is None:
        return
    assignments = team.role_assignments.select_related("role", "tenant", "project", "organization")
    _check_grants(by, assignments, request, revoking=revoking, user=user)
    if not revoking and user.pk == by.pk and not rbac.is_org_admin(by, team.organization):
        _refuse(
            "You may not add yourself to a team (only operators and organization admins may).",
            by=by,
            request=request,
            resource_type="team",
            resource_id=team.pk,
            organization=team.organization_id,
        )


def add_team_member(team: Team, user, *, by=None, request=None) -> None:
    """Add `user` to `team`, which gives them the team's roles (checked as assigning them)."""
    if user.organization_id not in (None, team.organization_id):
        raise ValidationError("This account belongs to another organization.")
    _check_can(by, "update", "team", team.organization, request, obj=team)
    _check_team_roles(team, user, by, request)
    team.members.add(user)
    rbac.forget(user)
    audit.record("update", request=request, actor=by, obj=team, changes={"members_added": [user.username]})


def remove_team_member(team: Team, user, *, by=None, request=None) -> None:
    """Remove `user` from `team` (and so from its roles)."""
    _check_can(by, "update", "team", team.organization, request, obj=team)
    if by is not None and user.pk != by.pk:
        _check_team_roles(team, user, by, request, revoking=True)
    team.members.remove(user)
    rbac.forget(user)
    audit.record("update", request=request, actor=by, obj=team, changes={"members_removed": [user.username]})


# --- invitations -------------------------------------------------------------------------------
def invite(
    organization: Organization,
    email: str,
    *,
    roles=(),
    teams=(),
    by=None,
    request=None,
    days: int = 7,
) -> tuple[Invitation, str]:
    """Invite `email` to `organization`, holding `roles` (dicts {"role": slug or Role, "tenant",
    "project", "resource_type", "resource_id"}; organization scope when none is given) and
    `teams` until accepted. Inviting into tenants only needs `invitation:create` in them (a
    tenant admin's), anything else organization-wide. Returns (invitation, token); the token
    is not stored and is shown once.
    Every role (and every team's roles) is checked as if assigned by `by`, before anything is
    written (so a refusal's audit event is not rolled back)."""
    grants = [_role_spec(organization, spec) for spec in roles]
    for team in teams:
        if team.organization_id != organization.pk:
            raise ValidationError(f"Team '{team}' belongs to another organization.")
    if not _may_invite_into_tenants(by, grants, teams):
        _check_can(by, "create", "invitation", organization, request)
    if by is not None:
        for role, scope in grants:
            check_grant(by, role, request=request, **scope)
        for team in teams:
            _check_team_roles(team, User(), by, request)
    with transaction.atomic():
        invitation = Invitation(organization=organization, email=email, invited_by=by)
        token = invitation.new_token(days)
        invitation.full_clean(exclude=["invited_by", "token_hash"])
        invitation.save()
        for role, scope in grants:
            assign_role(role, invitation=invitation, by=by, request=request, **scope)
        invitation.teams.add(*teams)
        audit.record("create", request=request, actor=by, obj=invitation, changes={"email": email})
    return invitation, token


def delete_invitation(invitation: Invitation, *, by=None, request=None) -> None:
    """Withdraw an invitation: its link stops working and the roles it held go. One into tenants
    only may be withdrawn by whoever holds `invitation:delete` in each of them (as inviting)."""
    if not may_handle_in_tenants(by, "delete", invitation):
        _check_can(by, "delete", "invitation", invitation.organization, request, obj=invitation)
    audit.record("delete", request=request, actor=by, obj=invitation, organization=invitation.organization_id)
    invitation.delete()


def may_handle_in_tenants(by, action: str, invitation: Invitation) -> bool:
    """Whether `by` holds `invitation:<action>` in every tenant `invitation` gives roles in, when
    it gives roles in tenants only (no organization-wide role, no team)."""
    if by is None or invitation.teams.exists():
        return False
    tenant_ids = set(invitation.role_assignments.values_list("tenant_id", flat=True))
    if not tenant_ids or None in tenant_ids:
        return False
    tenants = Tenant.objects.filter(pk__in=tenant_ids)
    return all(rbac.can(by, action, "invitation", tenant=tenant) for tenant in tenants)


def invitations_into_only(tenant: Tenant):
    """Invitations whose roles are all in `tenant` (or its projects), with no team."""
    elsewhere = RoleAssignment.objects.filter(invitation__isnull=False).exclude(tenant=tenant)
    into_here = RoleAssignment.objects.filter(invitation__isnull=False, tenant=tenant)
    return (
        Invitation.objects.filter(pk__in=into_here.values("invitation_id"), teams__isnull=True)
        .exclude(pk__in=elsewhere.values("invitation_id"))
        .distinct()
    )


def _may_invite_into_tenants(by, grants, teams) -> bool:
    """An invitation into tenants only (each role at tenant or project scope, no team) needs
    `invitation:create` in each of those tenants; anything else needs it organization-wide."""
    tenants = {scope["tenant"] for _, scope in grants}
    if by is None or not grants or teams or None in tenants:
        return by is None
    return all(rbac.can(by, "create", "invitation", tenant=tenant) for tenant in tenants)


def _role_spec(organization: Organization, spec: dict) -> tuple[Role, dict]:
    """(role, scope) of one {"role", "tenant", "project", "resource_type", "resource_id"} dict."""
    spec = {k: v for k, v in dict(spec).items() if v not in (None, "")}
    role = spec.pop("role", None)
    if role is None:
        raise ValidationError("Each role needs a 'role'.")
    tenant, project = spec.get("tenant"), spec.get("project")
    _, tenant, project = _scope_of(organization, tenant, project)
    if tenant is not None and tenant.organization_id != organization.pk:
        raise ValidationError("This tenant belongs to another organization.")
    role = find_role(role, organization) if isinstance(role, str) else role
    scope = {"organization": organization, "tenant": tenant, "project": project}
    scope.update({k: spec[k] for k in ("resource_type", "resource_id") if k in spec})
    return role, scope


def find_invitation(token: str) -> Invitation:
    """The pending invitation of a link's token; raises ValidationError for an unknown, used or
    expired one (the same message for all, so a guess learns nothing)."""
    invitation = Invitation.objects.filter(token_hash=Invitation.hash_token(token)).first()
    if invitation is None or not invitation.pending:
        raise ValidationError("This invitation link is invalid, used or expired.")
    return invitation


def accept_invitation(token: str, user, request=None) -> Invitation:
    """Hand the invitation's role assignments and teams to `user` (who just set a password or
    signed in) and mark it accepted. Raises ValidationError for a bad link."""
    with transaction.atomic():
        invitation = find_invitation(token)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not invitation.pending:
            raise ValidationError("This invitation link is invalid, used or expired.")
        for assignment in invitation.role_assignments.select_related("role", "tenant", "project"):
            assign_role(
                assignment.role,
                user=user,
                organization=assignment.organization,
                tenant=assignment.tenant,
                project=assignment.project,
                resource_type=assignment.resource_type,
                resource_id=assignment.resource_id,
                by=invitation.invited_by,
                request=request,
            )
        invitation.role_assignments.all().delete()
        for team in invitation.teams.all():
            team.members.add(user)
        invitation.accepted, invitation.accepted_by = timezone.now(), user
        invitation.save(update_fields=["accepted", "accepted_by", "updated"])
        audit.record("update", request=request, actor=user, obj=invitation, changes={"accepted": True})
    rbac.forget(user)
    return invitation


# --- service accounts and API keys -------------------------------------------------------------
def create_service_account(
    organization: Organization, name: str, *, description: str = "", by=None, request=None
) -> User:
    """A service account (a User that logs in with API keys only) of `organization`."""
    _check_can(by, "create", "service_account", organization, request)
    if User.objects.filter(username=name).exists():
        raise ValidationError({"name": f"An account named '{name}' exists already."})
    account = User(username=name, description=description, is_service_account=True, organization=organization)
    account.set_unusable_password()
    account.full_clean(exclude=["password"])
    account.save()
    audit.record(
        "create", request=request, actor=by, obj=account, resource_type="service_account", organization=organization
    )
    return account


def update_service_account(account: User, *, by=None, request=None, **fields) -> User:
    """Change a service account's `description`, `full_name` or `active` (deactivating it stops
    every key and token of it at once). Switching it off or on needs every permission it holds:
    a tenant admin may not stop an organization-wide account that is also in their tenant."""
    _check_can(by, "update", "service_account", account.organization, request, obj=account)
    if "active" in fields and by is not None:
        check_acts_as(account, by, request)
    before = {"description": account.description, "full_name": account.full_name, "active": account.is_active}
    for name in ("description", "full_name"):
        if name in fields:
            setattr(account, name, fields[name])
    if "active" in fields:
        account.is_active = bool(fields["active"])
    account.save()
    after = {"description": account.description, "full_name": account.full_name, "active": account.is_active}
    audit.record(
        "update",
        request=request,
        actor=by,
        obj=account,
        resource_type="service_account",
        organization=account.organization_id,
        changes=audit.changed_fields(before, after),
    )
    return account


def _check_key_owner(account: User, by, request) -> None:
    """Keys of `account` are managed by those who may update it; an API key's own account (a
    service account acting) only ever touches its own keys."""
    if by is None:
        return
    context = {"by": by, "request": request, "resource_type": "service_account", "resource_id": account.pk}
    _require(
        not by.is_service_account or by.pk == account.pk,
        "An API key may not manage the keys of another account.",
        organization=account.organization_id,
        **context,
    )
    _check_can(by, "update", "service_account", account.organization, request, obj=account)
    check_acts_as(account, by, request)


def check_acts_as(account: User, by, request) -> None:
    """A key acts as its account, so minting, rotating or changing one hands the account's roles
    to whoever holds the key: refused (audited) unless `by` holds every permission the account
    holds, at each scope of its roles (theirs and their teams'). Without it a tenant admin could
    mint a key of an organization-wide account that is also a member of their tenant."""
    if by.pk == account.pk or rbac.is_operator(by):
        return
    assignments = (
        RoleAssignment.objects.filter(Q(user=account) | Q(team__members=account))
        .filter(Q(tenant__isnull=True) | Q(tenant__active=True))
        .select_related("role", "organization", "tenant", "project")
    )
    for assignment in assignments:
        resource = (assignment.resource_type, assignment.resource_id) if assignment.resource_id else None
        held = rbac.held_permissions(
            by,
            organization=assignment.organization,
            tenant=assignment.tenant,
            project=assignment.project,
            resource=resource,
        )
        missing = effective_permissions(assignment.role, project=assignment.project, **_resource(resource)) - held
        _require(
            not missing,
            f"This service account holds permissions you do not hold ({', '.join(sorted(missing)[:3])}...): "
            "you may not manage its keys.",
            by=by,
            request=request,
            resource_type="service_account",
            resource_id=account.pk,
            organization=account.organization_id,
        )


def issue_api_key(account: User, name: str, *, expires=None, description: str = "", by=None, request=None):
    """A new API key of service account `account`; returns (key, plaintext), shown once."""
    if not account.is_service_account or account.organization_id is None:
        raise ValidationError("API keys belong to service accounts of an organization.")
    _check_key_owner(account, by, request)
    if expires is not None and expires <= timezone.now():
        raise ValidationError({"expires": "The expiry must be in the future."})
    if APIKey.objects.filter(service_account=account, name=name).exists():
        raise ValidationError({"name": f"This account has a key named '{name}' already."})
    key, plaintext = APIKey.issue(
        organization_id=account.organization_id,
        service_account=account,
        created_by=by,
        name=name,
        description=description,
        expires=expires,
    )
    audit.record(
        "create",
        request=request,
        actor=by,
        obj=key,
        resource_type="api_key",
        organization=account.organization_id,
        changes={"name": name, "service_account": account.username, "expires": str(expires) if expires else None},
    )
    return key, plaintext


def rotate_api_key(key: APIKey, *, retain_period_minutes: int = 0, by=None, request=None) -> str:
    """A new secret for `key`; the old one works `retain_period_minutes` longer. Returns it."""
    _check_key_owner(key.service_account, by, request)
    plaintext = key.rotate(retain_period_minutes)
    audit.record(
        "key_rotated",
        request=request,
        actor=by,
        obj=key,
        resource_type="api_key",
        organization=key.organization_id,
        changes={"retain_period_minutes": retain_period_minutes},
    )
    return plaintext


def update_api_key(key: APIKey, *, by=None, request=None, **fields) -> APIKey:
    """Change a key's `name`, `description`, `active` or `expires`; takes effect at once."""
    _check_key_owner(key.service_account, by, request)
    before = {name: getattr(key, name) for name in ("name", "description", "active", "expires")}
    for name, value in fields.items():
        if name in before:
            setattr(key, name, value)
    key.full_clean(exclude=["service_account", "organization", "created_by"])
    key.save()
    after = {name: getattr(key, name) for name in before}
    audit.record(
        "update",
        request=request,
        actor=by,
        obj=key,
        resource_type="api_key",
        organization=key.organization_id,
        changes=audit.changed_fields(before, after),
    )
    return key


def delete_api_key(key: APIKey, *, by=None, request=None) -> None:
    """Delete a key: it stops logging in at once, as do tokens minted from it."""
    _check_key_owner(key.service_account, by, request)
    _check_can(by, "delete", "service_account", key.organization, request, obj=key)
    audit.record(
        "delete",
        request=request,
        actor=by,
        obj=key,
        resource_type="api_key",
        organization=key.organization_id,
        changes={"name": key.name, "service_account": key.service_account.username},
    )
    key.delete()
