"""One row of every model behind the `/api/v1` routes, and the tools to walk those routes: shared
by the robustness tests (tests/core/test_api_robustness.py) and the permission matrix
(tests/tenants/test_permission_matrix.py)."""

import uuid

from django.apps import apps
from django.db import connection

from tenants import access
from tenants.models import APIKey, OAuthDevice
from tests.api_helpers import bearer_client
from tests.factories import World, make_account, populate

# The path segment before an id parameter -> the model whose row fills it.
SEGMENT_MODELS = {
    "runs": "PipelineRun",
    "steps": "StepRun",
    "pipelines": "Pipeline",
    "pipeline_snapshots": "PipelineSnapshot",
    "pipeline_builds": "PipelineBuild",
    "schedules": "Schedule",
    "run_templates": "RunTemplate",
    "triggers": "Trigger",
    "workspaces": "Project",
    "code_repositories": "CodeRepository",
    "artifacts": "Artifact",
    "artifact_versions": "ArtifactVersion",
    "logs": "Logs",
    "models": "Model",
    "model_versions": "ModelVersion",
    "tags": "Tag",
    "stacks": "Stack",
    "components": "StackComponent",
    "flavors": "Flavor",
    "projects": "Project",
    "secrets": "Secret",
    "service_connectors": "ServiceConnector",
}


def member(username: str, tenant=None, role: str | None = None, **scope):
    """A persona without a password (hashing one costs a second per user and test): a member of
    `tenant` with `role`, or holding `role` at `scope` (e.g. `project=`)."""
    user = make_account(username)
    if scope:
        access.assign_role(role, user=user, **scope)
    elif tenant is not None:
        access.add_member(tenant, user, role)
    return user


def build_world(tenant, admin) -> World:
    """`populate()` plus a service account with an API key and a device of `admin`; `ids_by_segment`
    maps each id position of the routes to a row, `api` is `admin`'s client."""
    world = populate(tenant, admin)
    robot = make_account(f"{tenant.slug}-robot", is_service_account=True, organization=tenant.organization)
    access.add_member(tenant, robot)
    key, _ = APIKey.issue(organization=tenant.organization, created_by=admin, service_account=robot, name="default")
    device = OAuthDevice.objects.create(
        tenant=tenant, user=admin, client_id=uuid.uuid4(), device_code_hash="d", user_code_hash="u", status="verified"
    )
    by_name = {model.__name__: row for model, row in world.rows.items()}
    world.ids_by_segment = {segment: str(by_name[name].pk) for segment, name in SEGMENT_MODELS.items()}
    world.ids_by_segment |= {
        "users": str(admin.pk),
        "service_accounts": str(robot.pk),
        "api_keys": str(key.pk),
        "devices": str(device.pk),
    }
    world.robot, world.key, world.device = robot, key, device
    world.api = bearer_client(admin, tenant)
    return world


def fill(route, ids: dict, bad: tuple[int, str] | None = None) -> str:
    """The route's path with real ids (by the segment before each parameter); `bad` puts a
    garbage value at one parameter position instead."""
    parts, position = route.path.split("/"), 0
    for index, part in enumerate(parts):
        if part.startswith("{"):
            if bad is not None and bad[0] == position:
                parts[index] = bad[1]
            else:
                parts[index] = ids.get(parts[index - 1], str(uuid.uuid4()))
            position += 1
    return "/".join(parts)


def fingerprint(exclude=()) -> tuple:
    """Row count and latest `updated` of every table (but those of `exclude`, e.g. the audit log
    that refusals write to), in one query: unchanged means nothing written."""
    selects = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.managed and not model._meta.proxy and model not in exclude:
            table = connection.ops.quote_name(model._meta.db_table)
            has_updated = any(f.column == "updated" for f in model._meta.concrete_fields)
            # Table names come from the models, quoted; no input reaches this SQL.
            latest = f"(SELECT MAX(updated) FROM {table})" if has_updated else "NULL"  # noqa: S608
            selects.append(f"(SELECT COUNT(*) FROM {table}), {latest}")  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(selects))
        return cursor.fetchone()


def is_zenml_error(response) -> bool:
    """ZenML's error bodies (wire.md 7): `{"detail": [class, message]}`, `{"detail": "..."}`, the
    bare `[class, message]` of 422s, or an OAuth error."""
    try:
        body = response.json()
    except ValueError:
        return False
    if isinstance(body, list):
        return len(body) == 2 and all(isinstance(item, str) for item in body)
    if not isinstance(body, dict):
        return False
    if "error" in body:
        return isinstance(body["error"], str)
    detail = body.get("detail")
    return isinstance(detail, str) or (
        isinstance(detail, list) and len(detail) == 2 and all(isinstance(item, str) for item in detail)
    )


# --- the control plane (/api/control/v1) ---------------------------------------------------------
def build_control_world(tenant) -> dict:
    """One row of every control-plane resource of `tenant`'s organization (made by system code): a team
    with a member, a custom role, an organization-level role assignment, an invitation, a service
    account (a member of `tenant`) with an API key, and an audit event. Returns the ids by the
    route segment before each id parameter (`user_id` is the member the member routes act on)."""
    from tenants.models import AuditEvent, RoleAssignment

    org = tenant.organization
    erin = member(f"{tenant.slug}-erin", tenant, "tenant-viewer")
    access.assign_role("org-member", user=erin, organization=org)
    team = access.create_team(org, f"{tenant.slug}-team", members=[erin])
    role = access.create_role(org, name=f"{tenant.slug} auditor", base="org-viewer")
    assignment = RoleAssignment.objects.get(user=erin, organization=org, tenant=None)
    invitation, _ = access.invite(org, f"{tenant.slug}-invitee@example.com", roles=[{"role": "org-viewer"}])
    robot = access.create_service_account(org, f"{tenant.slug}-robot")
    access.add_member(tenant, robot, "tenant-viewer")
    key, _ = access.issue_api_key(robot, "default")
    event = AuditEvent.objects.create(action="update", organization=org, resource_type="organization")
    return {
        "organizations": str(org.pk),
        "tenants": str(tenant.pk),
        "teams": str(team.pk),
        "roles": str(role.pk),
        "role-assignments": str(assignment.pk),
        "invitations": str(invitation.pk),
        "service-accounts": str(robot.pk),
        "api-keys": str(key.pk),
        "audit-events": str(event.pk),
        "members": str(erin.pk),
    }
