"""The permission set and the predefined roles (ZenML Pro's, features.md 3.2 and 3.3).

A permission is `"<resource type>:<action>"`. Project-scoped types are granted per project or,
by a tenant or organization role, in every project of the tenant; tenant-wide ("global") types
only by tenant and organization roles. Control-plane types govern the organization itself.
"""

ACTIONS = (
    "create",
    "read",
    "update",
    "delete",
    "share",
    "read_secret_value",
    "prune",
    "client",
    "promote",
    "backup_restore",
)
CRUD = ("create", "read", "update", "delete")
CRUDS = (*CRUD, "share")

PROJECT_TYPES = (
    "artifact",
    "artifact_version",
    "code_repository",
    "model",
    "model_version",
    "pipeline",
    "pipeline_run",
    "pipeline_build",
    "pipeline_snapshot",
    "schedule",
    "run_template",
    "run_metadata",
    "trigger",
)
TENANT_TYPES = (
    "flavor",
    "stack",
    "stack_component",
    "service_connector",
    "secret",
    "tag",
    "project",
    "service_account",
    "user",
    "tenant",
)
ORGANIZATION_TYPES = ("organization", "team", "role", "member", "invitation", "audit_event")
RESOURCE_TYPES = (*PROJECT_TYPES, *TENANT_TYPES, *ORGANIZATION_TYPES)
STACK_TYPES = ("stack", "stack_component", "service_connector", "flavor")

# Which actions make sense on which type; a role can only hold these.
EXTRA_ACTIONS = {
    "secret": ("read_secret_value", "backup_restore"),
    "service_connector": ("client",),
    "model_version": ("promote",),
    "model": ("promote",),
    "artifact_version": ("prune",),
    "artifact": ("prune",),
    "pipeline_snapshot": ("prune",),
}
NO_SHARE = (*ORGANIZATION_TYPES, "tenant", "user", "project")


def actions_of(resource_type: str) -> tuple[str, ...]:
    base = CRUD if resource_type in NO_SHARE else CRUDS
    return (*base, *EXTRA_ACTIONS.get(resource_type, ()))


ALL_PERMISSIONS = frozenset(f"{t}:{a}" for t in RESOURCE_TYPES for a in actions_of(t))


def perms(types, actions=None) -> set[str]:
    """Every valid permission on `types` among `actions` (all of the type's actions if None)."""
    return {f"{t}:{a}" for t in types for a in actions_of(t) if actions is None or a in actions}


_CONTENT = (*PROJECT_TYPES, *(t for t in TENANT_TYPES if t not in ("tenant", "user", "service_account")))

# slug -> (name, level, description, permissions)
BUILTIN_ROLES = {
    "org-admin": (
        "Organization Admin",
        "organization",
        "Everything in the organization and in every tenant and project.",
        set(ALL_PERMISSIONS),
    ),
    "org-manager": (
        "Organization Manager",
        "organization",
        "Creates and views organization resources and manages members and teams; no access to tenant contents.",
        perms(("organization", "tenant", "team", "member", "invitation", "role", "service_account"))
        - {"organization:delete", "tenant:delete"},
    ),
    "org-member": (
        "Organization Member",
        "organization",
        "Sees the organization; tenants only where granted explicitly.",
        {"organization:read"},
    ),
    "org-viewer": (
        "Organization Viewer",
        "organization",
        "Sees the organization, its tenants and their default stacks; no contents.",
        perms(("organization", "tenant", "team", "member", "role"), ("read",)),
    ),
    "tenant-admin": (
        "Tenant Admin",
        "tenant",
        "Everything in the tenant and all its projects, including members, projects and settings.",
        perms((*PROJECT_TYPES, *TENANT_TYPES, "member", "invitation", "audit_event"))
        - {"tenant:create", "tenant:delete"},  # creating and deleting tenants is the organization's
    ),
    "tenant-developer": (
        "Tenant Developer",
        "tenant",
        "Creates and views everything in the tenant and all its projects; full rights on their own stacks, "
        "read and update on others'.",
        perms(_CONTENT, ("create", "read", "update", "delete", "share", "promote", "client", "prune"))
        - perms(STACK_TYPES, ("delete", "share"))
        - {"project:create", "project:update", "project:delete"}
        | perms(("user", "service_account", "tenant"), ("read",))
        | {"secret:read_secret_value"},  # `zenml secret get` shows values, as for ZenML OSS users
    ),
    "tenant-contributor": (
        "Tenant Contributor",
        "tenant",
        "Creates resources; sees only their own stacks; no access to projects.",
        perms(TENANT_TYPES, ("create",)) - {"project:create", "tenant:create", "user:create", "service_account:create"}
        | perms(("flavor", "tag"), ("read",))
        | perms(("user", "tenant"), ("read",)),
    ),
    "tenant-viewer": (
        "Tenant Viewer",
        "tenant",
        "Reads everything in the tenant and its projects; changes nothing.",
        perms((*_CONTENT, "user", "service_account", "tenant"), ("read",)),
    ),
    "stack-admin": (
        "Stack Admin",
        "tenant",
        "Full rights on every stack, component, flavor and service connector; no projects.",
        perms(STACK_TYPES) | perms(("user", "tenant"), ("read",)),
    ),
    "project-admin": (
        "Project Admin",
        "project",
        "Everything in the project.",
        perms(PROJECT_TYPES) | {"project:read", "project:update"},
    ),
    "project-developer": (
        "Project Developer",
        "project",
        "Creates, views and changes the project's resources; deletes only their own.",
        perms(PROJECT_TYPES, ("create", "read", "update", "share", "promote")) | {"project:read"},
    ),
    "project-contributor": (
        "Project Contributor",
        "project",
        "Creates resources in the project and views them; changes only their own.",
        perms(PROJECT_TYPES, ("create", "read")) | {"project:read"},
    ),
    "project-viewer": (
        "Project Viewer",
        "project",
        "Reads the project's resources.",
        perms(PROJECT_TYPES, ("read",)) | {"project:read"},
    ),
}

# The role a user gets in a tenant when nobody says which (ZenML OSS users may do everything but
# administration, which matches a developer).
DEFAULT_TENANT_ROLE = "tenant-developer"
ADMIN_TENANT_ROLE = "tenant-admin"
