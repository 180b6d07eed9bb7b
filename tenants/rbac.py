"""The one place that decides what a user may see and do.

A user's permissions come from role assignments (tenants.models.RoleAssignment), theirs and
their teams', at four scopes:

- organization: the role's organization-level permissions apply to the organization's own
  resources (tenants, teams, members, ...), and its tenant and project permissions to every
  active tenant of the organization (so `org-admin` sees everything, `org-manager` no contents);
- tenant: everything of that type in the tenant, in all its projects;
- project: project-scoped types in that project (and the project itself); nothing on stacks;
- resource: one shared object.

Creators keep full rights on what they created while they may use its tenant. Operators
(superusers) may do everything. Anything else is denied.

All of it is loaded once per user object, that is once per request (`grants()`), in one query
(for /api/v1, the same query as the user's: tenants.authentication); `restrict()` turns it into one WHERE
clause and `check()` mostly answers without a query.
"""

from dataclasses import dataclass, field, replace
from functools import cache, reduce
from operator import or_

from django.db import models
from django.db.models import Q

from tenants.roles import ACTIONS, ORGANIZATION_TYPES, PROJECT_TYPES

_CACHE = "_mlmeta_grants"
# Types an organization-level role governs in the organization itself, not inside its tenants
# (service accounts belong to the organization).
_ORGANIZATION_ONLY = frozenset((*ORGANIZATION_TYPES, "tenant", "service_account"))


@dataclass
class Grants:
    org: dict = field(default_factory=dict)  # organization id -> {perm}
    tenant: dict = field(default_factory=dict)  # tenant id -> {perm}
    project: dict = field(default_factory=dict)  # project id -> {perm}
    project_tenant: dict = field(default_factory=dict)  # project id -> tenant id
    shared: dict = field(default_factory=dict)  # (type, id) -> {action}
    shared_tenants: set = field(default_factory=set)
    tenant_org: dict = field(default_factory=dict)  # tenant id -> organization id, for tenants above

    def orgs_with(self, perm) -> list:
        return [o for o, perms in self.org.items() if perm in perms]

    def tenants_with(self, perm) -> list:
        return [t for t, perms in self.tenant.items() if perm in perms]

    def projects_with(self, perm) -> list:
        return [p for p, perms in self.project.items() if perm in perms]

    def shared_ids(self, resource_type, action) -> list:
        return [i for (t, i), actions in self.shared.items() if t == resource_type and action in actions]

    @property
    def usable_tenants(self) -> frozenset:
        """Tenants the user may log in to: any permission there, on a project in it, or a share."""
        found = {t for t, perms in self.tenant.items() if perms}
        return frozenset(found | set(self.project_tenant.values()) | self.shared_tenants)

    @property
    def organizations(self) -> frozenset:
        return frozenset(self.org) | frozenset(self.tenant_org[t] for t in self.usable_tenants if t in self.tenant_org)


def _is_anonymous(user) -> bool:
    return user is None or not user.is_authenticated or not user.is_active


def is_operator(user) -> bool:
    return not _is_anonymous(user) and bool(user.is_superuser)


def _type_of(perm: str) -> str:
    return perm.partition(":")[0]


def grants(user) -> Grants:
    """Everything `user` is granted, computed once per user object (that is, per request)."""
    cached = user.__dict__.get(_CACHE)
    if cached is not None:
        return cached
    from django.db import connection

    sql, params = assignments_query(connection, user.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    columns = assignment_columns()
    return remember(user, grants_from_rows(columns.convert(row, connection) for row in rows))


def remember(user, g: Grants) -> Grants:
    """Keep `g` as `user`'s grants for the rest of the request (authentication loads them along
    with the user)."""
    user.__dict__[_CACHE] = g
    return g


@cache
def assignment_columns():
    """The columns of `assignments_query()`, with their converters."""
    from core.rawsql import Columns
    from tenants.models import Role, RoleAssignment, Tenant

    ra, tenant = RoleAssignment._meta.get_field, Tenant._meta.get_field
    return Columns(
        ("ra", ra("organization")),
        ("ra", ra("tenant")),
        ("t", tenant("organization")),
        ("ra", ra("project")),
        ("ra", ra("resource_type")),
        ("ra", ra("resource_id")),
        ("r", Role._meta.get_field("permissions")),
        ("ot", tenant("id")),
    )


_ASSIGNMENTS_SQL: dict = {}


def assignments_query(connection, user_id, user_sql: str = "%s") -> tuple[str, list]:
    """SQL and parameters of the rows `grants_from_rows()` takes: the role assignments of the user
    and of their teams (two index lookups) in active tenants or at organization scope, each with
    its role's permissions and its tenant's organization; an organization-scope row once per active
    tenant of the organization (`ot`), to which its content permissions apply. The user is
    `user_sql`, an SQL expression of one UUID parameter, `user_id` (by default the user's id).
    Built once per database: compiling it with the ORM on every request costs more than running it."""
    from core.rawsql import cache_key
    from tenants.models import RoleAssignment, User

    sql = _ASSIGNMENTS_SQL.get((cache_key(connection), user_sql))
    if sql is None:
        from tenants.models import Role, Team, Tenant

        q = connection.ops.quote_name
        ra_table, members = q(RoleAssignment._meta.db_table), q(Team.members.through._meta.db_table)
        own = "organization_id, tenant_id, project_id, resource_type, resource_id, role_id"
        sql = (
            f"SELECT {assignment_columns().sql(connection)} FROM ("  # noqa: S608 - our own tables and columns
            f"SELECT {own} FROM {ra_table} WHERE user_id = {user_sql} UNION ALL "
            f"SELECT {', '.join('x.' + c for c in own.split(', '))} FROM {ra_table} x "
            f"INNER JOIN {members} m ON m.team_id = x.team_id WHERE m.user_id = {user_sql}) ra "
            f"INNER JOIN {q(Role._meta.db_table)} r ON r.id = ra.role_id "
            f"LEFT OUTER JOIN {q(Tenant._meta.db_table)} t ON t.id = ra.tenant_id "
            # NULL unless the row is at organization scope: an index lookup that finds nothing.
            f"LEFT OUTER JOIN {q(Tenant._meta.db_table)} ot "
            "ON ot.organization_id = CASE WHEN ra.tenant_id IS NULL THEN ra.organization_id END AND ot.active = %s "
            "WHERE ra.tenant_id IS NULL OR t.active = %s"
        )
        _ASSIGNMENTS_SQL[(cache_key(connection), user_sql)] = sql
    user_id = User._meta.pk.get_db_prep_value(user_id, connection)
    return sql, [user_id, user_id, True, True]


def grants_from_rows(rows) -> Grants:
    """Grants of the (converted) rows of `assignments_query()`."""
    g = Grants()
    for org_id, tenant_id, tenant_org_id, project_id, resource_type, resource_id, perms, org_tenant_id in rows:
        perms = set(perms or ())
        if tenant_id:  # the tenant's organization comes with the row: no second query for it
            g.tenant_org[tenant_id] = tenant_org_id
        if resource_id:
            prefix = f"{resource_type}:"
            g.shared.setdefault((resource_type, resource_id), set()).update(
                p.removeprefix(prefix) for p in perms if p.startswith(prefix)
            )
            g.shared_tenants.add(tenant_id)
        elif project_id:
            g.project.setdefault(project_id, set()).update(
                p for p in perms if _type_of(p) in PROJECT_TYPES or p.startswith("project:")
            )
            g.project_tenant[project_id] = tenant_id
        elif tenant_id:
            g.tenant.setdefault(tenant_id, set()).update(perms)
        else:
            g.org.setdefault(org_id, set()).update(perms)
            content = {p for p in perms if _type_of(p) not in _ORGANIZATION_ONLY}
            if content and org_tenant_id:  # the organization's active tenants come with its rows
                g.tenant.setdefault(org_tenant_id, set()).update(content)
                g.tenant_org[org_tenant_id] = org_id
    return g


def forget(user) -> None:
    """Drop the per-user cache after role assignments change."""
    user.__dict__.pop(_CACHE, None)


# --- what a model looks like to RBAC --------------------------------------------------------
@dataclass(frozen=True)
class Shape:
    type: str
    tenant: str | None  # lookup of the tenant id
    org: str | None  # lookup of the organization id
    project: str | None  # lookup of the project id (project-scoped types)
    owner: str | None  # lookup of the creator's id
    ident: str | None  # lookup of the id a share names
    many: bool  # whether a lookup crosses a to-many relation (rows may repeat)


def _has_field(model, name) -> bool:
    try:
        model._meta.get_field(name)
        return True
    except Exception:
        return False


@cache
def shape(model) -> Shape:
    """How to find a model's type, tenant, organization, project, creator and shared id.

    Models declare `rbac_type`; rows hanging off a parent (`parent_field`) take the parent's."""
    parent = getattr(model, "parent_field", "")
    if parent:
        inner = shape(model._meta.get_field(parent).related_model)
        prefix = f"{parent}__"
        return Shape(
            type=inner.type,
            tenant="tenant_id",
            org="tenant__organization_id",
            project=inner.project and prefix + inner.project,
            owner=inner.owner and prefix + inner.owner,
            ident=inner.ident and (f"{parent}_id" if inner.ident == "pk" else prefix + inner.ident),
            many=False,
        )
    custom = getattr(model, "rbac_shape", None)
    if custom:
        return Shape(**custom)
    if _has_field(model, "tenant"):
        tenant, org, owner = "tenant_id", "tenant__organization_id", "user_id" if _has_field(model, "user") else None
    else:
        tenant, org, owner = None, "organization_id", "created_by_id" if _has_field(model, "created_by") else None
    return Shape(
        type=model.rbac_type,
        tenant=tenant,
        org=org,
        project="project_id" if _has_field(model, "project") else None,
        owner=owner,
        ident=getattr(model, "rbac_ident", "pk"),
        many=False,
    )


# --- decisions -----------------------------------------------------------------------------
def _clauses(s: Shape, g: Grants, user, action: str) -> list:
    """The OR-ed conditions of `restrict()`. Narrower grants inside a tenant granted in full are
    left out, so the common case (a role in the tenant) stays one indexable `tenant_id IN (...)`."""
    perm = f"{s.type}:{action}"
    clauses = []
    full = set(g.tenants_with(perm)) if s.tenant else set()
    if full:
        clauses.append(Q(**{f"{s.tenant}__in": sorted(full)}))
    if s.org and (ids := g.orgs_with(perm)):
        clauses.append(Q(**{f"{s.org}__in": ids}))
    projects = [p for p in g.projects_with(perm) if g.project_tenant.get(p) not in full]
    if s.project and projects:
        clauses.append(Q(**{f"{s.project}__in": projects}))
    if s.ident and (ids := g.shared_ids(s.type, action)):
        clauses.append(Q(**{f"{s.ident}__in": ids}))
    if s.owner and action != "create":
        if s.tenant and (owned := g.usable_tenants - full):
            clauses.append(Q(**{s.owner: user.pk, f"{s.tenant}__in": sorted(owned)}))
        elif not s.tenant and s.org and g.organizations:
            clauses.append(Q(**{s.owner: user.pk, f"{s.org}__in": g.organizations}))
    return clauses


def restrict(queryset: models.QuerySet, user, action: str = "read", resource_type: str | None = None):
    """`queryset` narrowed to the rows `user` may `action` (as `resource_type`, when one model
    serves two types: users and service accounts)."""
    if action not in ACTIONS:
        raise ValueError(f"Unknown action {action!r}.")
    if _is_anonymous(user):
        return queryset.none()
    if user.is_superuser:
        return queryset
    s = shape(queryset.model)
    if resource_type:
        s = replace(s, type=resource_type)
    g = grants(user)
    clauses = _clauses(s, g, user, action)
    extra = getattr(queryset, "rbac_extra", None)
    if extra is not None:
        clauses.extend(extra(user, g, action))
    if not clauses:
        return queryset.none()
    queryset = queryset.filter(reduce(or_, clauses))
    return queryset.distinct() if s.many else queryset


def can(user, action: str, resource_type: str, *, tenant=None, project=None, organization=None) -> bool:
    """Whether `user` holds `resource_type:action` at the given scope (type-wide, no object):
    what creating something there needs."""
    if _is_anonymous(user):
        return False
    if user.is_superuser:
        return True
    g = grants(user)
    perm = f"{resource_type}:{action}"
    tenant_id = getattr(tenant, "pk", tenant)
    project_id = getattr(project, "pk", project)
    org_id = getattr(organization, "pk", organization)
    if tenant_id and perm in g.tenant.get(tenant_id, ()):
        return True
    if project_id and resource_type in (*PROJECT_TYPES, "project") and perm in g.project.get(project_id, ()):
        return True
    if org_id is None and tenant is not None:
        org_id = getattr(tenant, "organization_id", None) or g.tenant_org.get(tenant_id)
    return bool(org_id) and perm in g.org.get(org_id, ())


def can_somewhere(user, action: str, resource_type: str) -> bool:
    """Whether `user` holds `resource_type:action` at any scope (whether to offer "add" at all)."""
    if _is_anonymous(user):
        return False
    if user.is_superuser:
        return True
    g = grants(user)
    perm = f"{resource_type}:{action}"
    scopes = (g.org, g.tenant, g.project)
    return any(perm in perms for scope in scopes for perms in scope.values())


def check(user, action: str, obj, resource_type: str | None = None) -> bool:
    """Whether `user` may perform `action` on `obj` (deny unless allowed)."""
    if _is_anonymous(user):
        return False
    if user.is_superuser:
        return True
    s = shape(type(obj))
    if resource_type:
        s = replace(s, type=resource_type)
    if s.tenant == "tenant_id" and s.project in (None, "project_id") and s.owner in (None, "user_id"):
        tenant_id = obj.tenant_id
        project_id = getattr(obj, "project_id", None) if s.project else None
        if can(user, action, s.type, tenant=tenant_id, project=project_id, organization=_org_of(user, tenant_id)):
            return True
        g = grants(user)
        if s.ident == "pk" and action in g.shared.get((s.type, obj.pk), ()):
            return True
        owner = getattr(obj, "user_id", None) if s.owner else None
        return action != "create" and owner == user.pk and tenant_id in g.usable_tenants
    if action == "create" and _may_create_at(user, s.type, obj):
        return True
    if obj.pk is None or obj._state.adding:
        return False
    return restrict(type(obj)._default_manager.filter(pk=obj.pk), user, action, s.type).exists()


def _may_create_at(user, resource_type, obj) -> bool:
    """Creating needs the permission where the new row lands: its tenant, project or organization
    (rows hanging off a parent land where the parent is)."""
    parent = getattr(type(obj), "parent_field", "")
    where = getattr(obj, parent) if parent and getattr(obj, f"{parent}_id", None) else obj
    tenant_id = getattr(where, "tenant_id", None)
    if type(where).__name__ == "Project" or resource_type == "project":
        project_id = where.pk if type(where).__name__ == "Project" and not where._state.adding else None
    else:
        project_id = getattr(where, "project_id", None)
    org_id = getattr(where, "organization_id", None) or (tenant_id and _org_of(user, tenant_id))
    return can(user, "create", resource_type, tenant=tenant_id, project=project_id, organization=org_id)


def _org_of(user, tenant_id):
    g = grants(user)
    org = g.tenant_org.get(tenant_id)
    if org is None and g.org:
        from tenants.models import Tenant

        org = Tenant.objects.filter(pk=tenant_id).values_list("organization_id", flat=True).first()
        g.tenant_org[tenant_id] = org
    return org


def allowed_ids(user, action: str, model, ids, tenant=None) -> set:
    """Which of `ids` (of `model`) `user` may `action`: one query for a whole page of rows. Given
    `tenant`, the tenant the rows belong to, no query when the user holds the permission there."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return set()
    if is_operator(user):
        return ids
    s = shape(model)
    if tenant is not None and s.tenant == "tenant_id" and can(user, action, s.type, tenant=tenant):
        return ids
    return set(restrict(model._default_manager.filter(pk__in=ids), user, action).values_list("pk", flat=True))


# --- tenants ---------------------------------------------------------------------------------
def tenant_ids(user) -> frozenset:
    """Ids of the tenants `user` may log in to (operators: every tenant goes through is_operator)."""
    if _is_anonymous(user):
        return frozenset()
    return grants(user).usable_tenants


def may_use_tenant(user, tenant) -> bool:
    if _is_anonymous(user) or not tenant.active:
        return False
    return user.is_superuser or tenant.pk in tenant_ids(user)


def is_tenant_admin(user, tenant) -> bool:
    """Whether `user` administers `tenant`: its members, settings and projects."""
    return may_use_tenant(user, tenant) and can(user, "update", "tenant", tenant=tenant)


def tenant_admin_ids(tenant) -> set:
    """Ids of the users who administer `tenant` (a role holding `tenant:update` at its tenant or
    organization scope, directly or through a team): one query, two with teams."""
    from tenants.models import RoleAssignment, Team

    rows = RoleAssignment.objects.filter(
        Q(tenant=tenant, project=None, resource_id=None) | Q(tenant=None, organization_id=tenant.organization_id)
    ).values_list("user_id", "team_id", "role__permissions")
    users, teams = set(), set()
    for user_id, team_id, perms in rows:
        if "tenant:update" in (perms or ()):
            users.add(user_id) if user_id else teams.add(team_id)
    users.discard(None)
    if teams:
        users |= set(Team.members.through.objects.filter(team_id__in=teams).values_list("user_id", flat=True))
    return users


# --- what a user holds at one scope (privilege-escalation checks in tenants.access) -------------
def held_permissions(user, *, organization, tenant=None, project=None, resource=None) -> frozenset:
    """Every permission `user` holds at one scope: the organization's grants, plus the tenant's,
    the project's and a shared resource's ((type, id)) when the scope is narrower. Operators hold
    all of them. Used to refuse granting a permission one does not hold oneself."""
    from tenants.roles import ALL_PERMISSIONS

    if _is_anonymous(user):
        return frozenset()
    if user.is_superuser:
        return ALL_PERMISSIONS
    g = grants(user)
    held = set(g.org.get(getattr(organization, "pk", organization), ()))
    if tenant is not None:
        held |= g.tenant.get(getattr(tenant, "pk", tenant), set())
    if project is not None:
        held |= g.project.get(getattr(project, "pk", project), set())
    if resource is not None:
        resource_type, resource_id = resource
        held |= {f"{resource_type}:{a}" for a in g.shared.get((resource_type, resource_id), ())}
    return frozenset(held)


def is_org_admin(user, organization) -> bool:
    """Whether `user` is an operator or holds every permission at `organization` scope (the
    `org-admin` role, directly or through a team)."""
    from tenants.roles import ALL_PERMISSIONS

    return held_permissions(user, organization=organization) >= ALL_PERMISSIONS
