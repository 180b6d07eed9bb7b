"""The permission matrix of `/api/v1`, generated from the URL resolver: every resource route and
operation, run as each persona, with what each must get.

- alice, tenant-admin of A: allowed;
- bob, tenant-viewer of A: reads allowed, writes 403;
- dave, who logs in to A only through project-viewer of another project: sees none of the
  resources (404/403 on them, lists without them);
- charlie, tenant-admin of B: his token of B on A's URLs is a 401; on B's URLs, A's ids are 404.

A route this module does not classify fails `test_every_route_is_classified`. Refused requests
must write nothing (every table but the audit log is compared before and after).
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from core.api.routes import api_routes
from mlmeta.models import Flavor, StackComponent
from tenants import access
from tenants.models import AuditEvent, Project
from tests.api_helpers import bearer_client
from tests.api_world import build_world, fill, fingerprint, is_zenml_error, member

READ, WRITE = "read", "write"
DETAIL, COLLECTION = "detail", "collection"
DENIED = (401, 403, 404)

# Routes that are not a tenant's resources, each with the reason.
EXEMPT = {
    ("GET", "/api/v1/info"): "public server info",
    ("GET", "/api/v1/version"): "public version string",
    ("POST", "/api/v1/login"): "the token endpoint: tests/tenants/test_login.py",
    ("GET", "/api/v1/logout"): "clears the caller's own cookie",
    ("POST", "/api/v1/logout"): "clears the caller's own cookie",
    ("GET", "/api/v1/api_token"): "mints a token for the caller only",
    ("GET", "/api/v1/current-user"): "the caller's own account",
    ("PUT", "/api/v1/current-user"): "the caller's own account",
    ("POST", "/api/v1/device_authorization"): "unauthenticated start of the device flow",
    ("PUT", "/api/v1/activate"): "unauthenticated first-run activation, tests/core/test_api_server.py",
    ("GET", "/api/v1/component-types"): "a constant list",
    ("GET", "/api/v1/artifact_versions/{pk}/data"): "signed download token is the credential",
    ("GET", "/api/v1/pipeline_snapshots/{pk}/code"): "signed download token is the credential",
    ("PUT", "/api/v1/devices/{pk}/verify"): "device flow with a user code: tests/tenants/test_api_devices.py",
    ("GET", "/api/v1/service_connector_types"): "the connector types this server knows: a constant list",
    ("GET", "/api/v1/service_connector_types/{connector_type}"): "one constant connector type",
}

# Routes whose operation is not told by a CRUD viewset action: (read or write, detail or collection).
CUSTOM = {
    ("GET", "/api/v1/settings"): (READ, COLLECTION),
    ("PUT", "/api/v1/settings"): (WRITE, COLLECTION),
    ("GET", "/api/v1/statistics"): (READ, COLLECTION),
    ("GET", "/api/v1/projects/{project_name_or_id}/statistics"): (READ, DETAIL),
    ("PUT", "/api/v1/service_accounts/{service_account_id}/api_keys/{pk}/rotate"): (WRITE, DETAIL),
    ("PATCH", "/api/v1/flavors/sync"): (WRITE, COLLECTION),
    ("PUT", "/api/v1/users/{pk}/deactivate"): (WRITE, DETAIL),
    ("PUT", "/api/v1/users/{pk}/email-opt-in"): (WRITE, DETAIL),
    ("POST", "/api/v1/run-metadata"): (WRITE, COLLECTION),
    ("POST", "/api/v1/tag_resources"): (WRITE, COLLECTION),
    ("DELETE", "/api/v1/tag_resources"): (WRITE, COLLECTION),
    ("POST", "/api/v1/tag_resources/batch"): (WRITE, COLLECTION),
    ("DELETE", "/api/v1/tag_resources/batch"): (WRITE, COLLECTION),
    ("DELETE", "/api/v1/model_versions/{model_version_id}/artifacts"): (WRITE, DETAIL),
    ("DELETE", "/api/v1/model_versions/{model_version_id}/artifacts/{link_name_or_id}"): (WRITE, DETAIL),
    ("DELETE", "/api/v1/model_versions/{model_version_id}/runs/{link_name_or_id}"): (WRITE, DETAIL),
    ("GET", "/api/v1/logs/{pk}/entries"): (READ, DETAIL),
    ("DELETE", "/api/v1/artifact_versions"): (WRITE, COLLECTION),
    ("POST", "/api/v1/artifact_versions/batch"): (WRITE, COLLECTION),
    ("POST", "/api/v1/pipeline_snapshots/prune"): (WRITE, COLLECTION),
    ("GET", "/api/v1/pipeline_snapshots/{pk}/download-token"): (READ, DETAIL),
    ("POST", "/api/v1/runs/statistics"): (READ, COLLECTION),
    ("GET", "/api/v1/runs/{pk}/dag"): (READ, DETAIL),
    ("PUT", "/api/v1/runs/{pk}/disable_heartbeat"): (WRITE, DETAIL),
    ("GET", "/api/v1/runs/{pk}/logs"): (READ, DETAIL),
    ("GET", "/api/v1/runs/{pk}/pipeline-configuration"): (READ, DETAIL),
    ("POST", "/api/v1/runs/{pk}/refresh"): (WRITE, DETAIL),
    ("GET", "/api/v1/runs/{pk}/status"): (READ, DETAIL),
    ("POST", "/api/v1/runs/{pk}/stop"): (WRITE, DETAIL),
    ("POST", "/api/v1/runs/{pk}/replay"): (WRITE, DETAIL),  # needs pipeline_run:create
    ("POST", "/api/v1/pipeline_snapshots/{snapshot_id}/runs"): (WRITE, DETAIL),  # needs pipeline_run:create
    ("POST", "/api/v1/run_templates/{pk}/runs"): (WRITE, DETAIL),  # needs pipeline_run:create
    ("PUT", "/api/v1/triggers/{pk}/pipeline_snapshots/{snapshot_id}"): (WRITE, DETAIL),
    ("DELETE", "/api/v1/triggers/{pk}/pipeline_snapshots/{snapshot_id}"): (WRITE, DETAIL),
    ("DELETE", "/api/v1/triggers/{pk}/dispatch_state"): (WRITE, DETAIL),
    ("PUT", "/api/v1/steps/{pk}/heartbeat"): (WRITE, DETAIL),
    ("GET", "/api/v1/steps/{pk}/logs"): (READ, DETAIL),
    ("GET", "/api/v1/steps/{pk}/status"): (READ, DETAIL),
    ("GET", "/api/v1/steps/{pk}/step-configuration"): (READ, DETAIL),
    ("GET", "/api/v1/artifact_versions/{pk}/download-token"): (READ, DETAIL),
    ("GET", "/api/v1/artifact_versions/{pk}/visualize"): (READ, DETAIL),
    ("GET", "/api/v1/service_connectors/resources"): (READ, COLLECTION),
    ("POST", "/api/v1/service_connectors/verify"): (WRITE, COLLECTION),  # needs service_connector:create
    ("PUT", "/api/v1/service_connectors/{pk}/verify"): (READ, DETAIL),
    ("GET", "/api/v1/service_connectors/{pk}/client"): (WRITE, DETAIL),  # needs service_connector:client
    ("PUT", "/api/v1/secrets_operations/backup"): (WRITE, COLLECTION),  # needs secret:backup_restore
    ("PUT", "/api/v1/secrets_operations/restore"): (WRITE, COLLECTION),
}
CRUD_ACTIONS = {
    "list": (READ, COLLECTION),
    "retrieve": (READ, DETAIL),
    "create": (WRITE, COLLECTION),
    "update": (WRITE, DETAIL),
    "partial_update": (WRITE, DETAIL),
    "destroy": (WRITE, DETAIL),
}

# What alice (allowed) gets where it is not a 200, with the reason.
ALICE = {
    ("PUT", "/api/v1/users/{pk}/email-opt-in"): (403, "only users themselves opt in"),
    ("GET", "/api/v1/logs/{pk}/entries"): (403, "the log file is outside the readable artifact stores"),
    ("GET", "/api/v1/runs/{pk}/logs"): (403, "the log file is outside the readable artifact stores"),
    ("GET", "/api/v1/steps/{pk}/logs"): (403, "the log file is outside the readable artifact stores"),
    ("GET", "/api/v1/pipeline_snapshots/{pk}/download-token"): (400, "the snapshot has no code archive"),
    ("GET", "/api/v1/artifact_versions/{pk}/visualize"): (403, "the file is outside the readable artifact stores"),
    ("PUT", "/api/v1/secrets_operations/backup"): (400, "the tenant has no backup secrets store"),
    ("PUT", "/api/v1/secrets_operations/restore"): (400, "the tenant has no backup secrets store"),
    ("PUT", "/api/v1/triggers/{pk}/pipeline_snapshots/{snapshot_id}"): (403, "the world's snapshot has no name"),
    ("DELETE", "/api/v1/triggers/{pk}/pipeline_snapshots/{snapshot_id}"): (404, "the world's trigger has none"),
}
# Writes that answer a caller without the permission with 200 and change nothing.
FILTERING_WRITES: set = set()
# Resources only their owner reaches (devices): bob reads none of alice's.
OWN_ONLY = ("/api/v1/devices",)


def route_kind(route) -> tuple[str, str] | None:
    key = (route.method, route.path)
    if key in CUSTOM:
        return CUSTOM[key]
    if route.action in CRUD_ACTIONS and key not in EXEMPT:
        return CRUD_ACTIONS[route.action]
    return None


def matrix_routes():
    return [r for r in api_routes() if (r.method, r.path) not in EXEMPT]


def test_every_route_is_classified():
    unclassified = [f"{r.method} {r.path}" for r in matrix_routes() if route_kind(r) is None]
    assert not unclassified, "Routes without an entry in the permission matrix:\n" + "\n".join(unclassified)
    stale = [key for key in (*EXEMPT, *CUSTOM, *ALICE) if key not in {(r.method, r.path) for r in api_routes()}]
    assert not stale, f"Matrix entries for routes that no longer exist: {stale}"


# --- the world ------------------------------------------------------------------------------
@dataclass
class Matrix:
    world: object
    ids: dict
    clients: dict
    bodies: dict


def now() -> str:
    return datetime.now(UTC).isoformat()


def create_bodies(w, ids) -> dict:
    """Valid request bodies of the write routes, naming the world's rows."""
    project, run, tag = ids["projects"], ids["runs"], ids["tags"]
    orchestrator, store = str(w.store.pk), ids["components"]
    orchestrator, store = ids["components"], str(w.store.pk)
    source = {"module": "m.materializers", "attribute": "Materializer", "type": "internal"}
    version = {
        "project": project,
        "artifact_id": ids["artifacts"],
        "type": "DataArtifact",
        "uri": "/store/alpha/new",
        "materializer": source,
        "data_type": {"module": "builtins", "attribute": "int", "type": "builtin"},
        "save_type": "step_output",
    }
    link = {"tag_id": tag, "resource_id": run, "resource_type": "pipeline_run"}
    return {
        ("POST", "/api/v1/stacks"): {
            "name": "m-stack",
            "components": {"orchestrator": [orchestrator], "artifact_store": [store]},
        },
        ("POST", "/api/v1/components"): {
            "name": "m-orchestrator",
            "type": "orchestrator",
            "flavor": "local",
            "configuration": {},
        },
        ("POST", "/api/v1/flavors"): {
            "name": "m-flavor",
            "type": "orchestrator",
            "config_schema": {},
            "source": "m.Flavor",
            "integration": "custom",
        },
        ("POST", "/api/v1/tags"): {"name": "m-tag"},
        ("POST", "/api/v1/models"): {"project": project, "name": "m-model"},
        ("POST", "/api/v1/model_versions"): {"project": project, "model": ids["models"], "name": "m-version"},
        ("POST", "/api/v1/run-metadata"): {
            "project": project,
            "resources": [{"id": run, "type": "pipeline_run"}],
            "values": {"m": 1},
            "types": {"m": "int"},
        },
        ("POST", "/api/v1/tag_resources"): link,
        ("DELETE", "/api/v1/tag_resources"): link,
        ("POST", "/api/v1/tag_resources/batch"): [link],
        ("DELETE", "/api/v1/tag_resources/batch"): [link],
        ("POST", "/api/v1/model_version_artifacts"): {
            "model_version": ids["model_versions"],
            "artifact_version": ids["artifact_versions"],
        },
        ("POST", "/api/v1/model_version_pipeline_runs"): {"model_version": ids["model_versions"], "pipeline_run": run},
        ("POST", "/api/v1/logs"): {"id": str(uuid.uuid4()), "project": project, "uri": "/x", "source": "client"},
        ("POST", "/api/v1/artifact_versions"): version,
        ("POST", "/api/v1/artifact_versions/batch"): [version],
        ("POST", "/api/v1/code_repositories"): {"project": project, "name": "m-repo", "config": {}, "source": source},
        ("POST", "/api/v1/pipelines"): {"project": project, "name": "m-pipeline"},
        ("POST", "/api/v1/pipeline_builds"): {
            "project": project,
            "is_local": True,
            "contains_code": True,
            "pipeline": ids["pipelines"],
            "stack": ids["stacks"],
        },
        ("POST", "/api/v1/pipeline_snapshots"): {
            "project": project,
            "run_name_template": "m-run",
            "pipeline_configuration": {"name": "m"},
            "stack": ids["stacks"],
            "pipeline": ids["pipelines"],
        },
        ("POST", "/api/v1/pipeline_snapshots/prune"): {"project": project, "older_than": now()},
        ("POST", "/api/v1/schedules"): {
            "project": project,
            "name": "m-schedule",
            "active": True,
            "cron_expression": "0 1 * * *",
            "orchestrator_id": orchestrator,
            "pipeline_id": ids["pipelines"],
        },
        ("POST", "/api/v1/run_templates"): template_body(project, ids),
        ("POST", "/api/v1/workspaces/{project_name_or_id}/run_templates"): template_body(project, ids),
        ("POST", "/api/v1/triggers"): {
            "type": "schedule",
            "project": project,
            "name": "m-trigger",
            "cron_expression": "0 1 * * *",
        },
        ("PUT", "/api/v1/triggers/{pk}"): {
            "type": "platform_event",
            "name": "m-trigger",
            "source_entity": {"type": "pipeline", "id": ids["pipelines"]},
            "target_events": ["run_completed"],
        },
        ("POST", "/api/v1/runs"): {
            "project": project,
            "name": "m-run",
            "snapshot": ids["pipeline_snapshots"],
            "status": "running",
            "orchestrator_run_id": "m-orchestrator-run",
        },
        ("POST", "/api/v1/runs/statistics"): {"filter": {}},
        ("POST", "/api/v1/steps"): {
            "project": project,
            "name": "m-step",
            "start_time": now(),
            "status": "running",
            "pipeline_run_id": run,
        },
        ("POST", "/api/v1/artifacts"): {"project": project, "name": "m-artifact"},
        ("POST", "/api/v1/secrets"): {"name": "m-secret", "values": {"token": "s3cret"}},
        ("POST", "/api/v1/users"): {"name": "m-user", "is_admin": False},
        ("POST", "/api/v1/projects"): {"name": "mproject"},
        ("POST", "/api/v1/service_accounts"): {"name": "m-robot", "active": True},
        ("POST", "/api/v1/service_accounts/{service_account_id}/api_keys"): {"name": "m-key"},
        ("PUT", "/api/v1/settings"): {"display_updates": False},
        ("POST", "/api/v1/service_connectors"): connector_body("m-aws"),
        ("POST", "/api/v1/service_connectors/verify"): connector_body("m-aws"),
    }


def template_body(project, ids) -> dict:
    return {"project": project, "name": "m-template", "source_snapshot_id": ids["pipeline_snapshots"]}


def connector_body(name) -> dict:
    configuration = {
        "aws_access_key_id": "AKIAEXAMPLE",
        "aws_secret_access_key": "not-a-real-secret",
        "region": "us-east-1",
        "endpoint_url": "http://127.0.0.1:9",  # nothing listens: verifying fails fast
    }
    return {
        "name": name,
        "connector_type": "aws",
        "auth_method": "secret-key",
        "configuration": configuration,
        "resource_types": ["s3-bucket"],
        "resource_id": "s3://m-bucket",
    }


@pytest.fixture
def alice(tenant_a):
    return member("alice", tenant_a, "tenant-admin")


@pytest.fixture
def charlie(tenant_b):
    return member("charlie", tenant_b, "tenant-admin")


@pytest.fixture
def matrix(tenant_a, tenant_b, alice, charlie):
    world = build_world(tenant_a, alice)
    bob = member("bob", tenant_a, "tenant-viewer")
    dave = member("dave")
    access.assign_role("project-viewer", user=dave, project=Project.objects.get(tenant=tenant_a, name="default"))
    erin = member("erin", tenant_a)  # the user the users routes act on (alice cannot deactivate herself)
    ids = dict(world.ids_by_segment)
    ids["users"] = str(erin.pk)
    # Deletable ones: the world's component is in a stack and its flavor in use.
    owned = {"tenant": tenant_a, "user": alice}
    spare = StackComponent.objects.create(name="spare", type="orchestrator", flavor_name="local", **owned)
    ids["components_free"] = str(spare.pk)
    flavor = Flavor.objects.create(name="spare", type="orchestrator", source="m.Spare", is_custom=True, **owned)
    ids["flavors_free"] = str(flavor.pk)
    ids["link_name_or_id"] = world.ids_by_segment["artifacts"]
    created = world.api.post("/api/v1/service_connectors", connector_body("spare-aws"), format="json")
    assert created.status_code == 200, created.content
    ids["service_connectors"] = created.json()["id"]  # complete, unused: usable and deletable
    clients = {
        "alice": world.api,
        "bob": bearer_client(bob, tenant_a),
        "dave": bearer_client(dave, tenant_a),
        "charlie": bearer_client(charlie, tenant_b),
    }
    return Matrix(world=world, ids=ids, clients=clients, bodies=create_bodies(world, world.ids_by_segment))


def path_of(route, ids) -> str:
    if route.path.startswith(("/api/v1/components/{", "/api/v1/flavors/{")):
        segment = route.path.split("/")[3]
        ids = {**ids, segment: ids[f"{segment}_free"]}
    if route.path.endswith("{link_name_or_id}"):
        kind = "artifacts" if "/artifacts/" in route.path else "runs"
        link = ids["artifact_versions"] if kind == "artifacts" else ids["runs"]
        return fill(route, ids).rsplit("/", 1)[0] + "/" + link_name(route, ids, link)
    return fill(route, ids)


def link_name(route, ids, link) -> str:
    from mlmeta.models import ModelVersionArtifact, ModelVersionPipelineRun

    model = ModelVersionArtifact if "/artifacts/" in route.path else ModelVersionPipelineRun
    return str(model.objects.get(model_version_id=ids["model_versions"]).pk)


def unaudited_fingerprint() -> tuple:
    return fingerprint(exclude=(AuditEvent,))


def send(client, route, path, body, prefix=""):
    kwargs = {"format": "json"} if body is not None else {}
    client.raise_request_exception = False
    return getattr(client, route.method.lower())(prefix + path, body, **kwargs)


def world_ids(m) -> set[str]:
    return {str(i) for i in m.world.ids()} | {str(v) for k, v in m.ids.items() if k != "link_name_or_id"}


def mentions(response, ids) -> list[str]:
    text = response.content.decode(errors="replace")
    return sorted(i for i in ids if i in text)


# --- the matrix ---------------------------------------------------------------------------
def check_refused(m, persona, route, path, body, allowed, prefix="") -> list[str]:
    before = unaudited_fingerprint()
    response = send(m.clients[persona], route, path, body, prefix)
    problems = []
    label = f"{persona}: {route.method} {prefix}{path}"
    if response.status_code not in allowed:
        problems.append(f"{label}: {response.status_code}, expected one of {allowed}: {response.content[:200]!r}")
    elif response.status_code >= 400 and not is_zenml_error(response):
        problems.append(f"{label}: {response.status_code} without a ZenML error body")
    if unaudited_fingerprint() != before:
        problems.append(f"{label}: refused ({response.status_code}) but the database changed")
    return problems


def check_list_hides(m, persona, route, path, body, prefix="") -> list[str]:
    response = send(m.clients[persona], route, path, body, prefix)
    label = f"{persona}: {route.method} {prefix}{path}"
    if response.status_code in (401, 403, 404):
        return []
    if response.status_code != 200:
        return [f"{label}: {response.status_code} {response.content[:200]!r}"]
    leaked = mentions(response, world_ids(m))
    return [f"{label}: shows A's rows {leaked}"] if leaked else []


@pytest.mark.parametrize("route", matrix_routes(), ids=lambda r: f"{r.method} {r.path}")
def test_permission_matrix(matrix, route):
    m, key = matrix, (route.method, route.path)
    kind = route_kind(route)
    assert kind is not None, "unclassified: see test_every_route_is_classified"
    op, scope = kind
    body = m.bodies.get(key, {} if route.method in ("PUT", "POST", "PATCH") else None)
    body = json.loads(json.dumps(body))
    path = path_of(route, m.ids)
    problems = []

    # charlie, with his valid token of B, on A's URL: 401 and nothing else.
    problems += check_refused(m, "charlie", route, path, body, (401,))

    # charlie on B's URL with A's ids: 404 (lists show nothing of A).
    if op == READ and scope == COLLECTION and not route.params:
        problems += check_list_hides(m, "charlie", route, path, body, "/t/beta")
    elif route.params or json.dumps(body) != json.dumps(strip_ids(body, world_ids(m))):
        problems += check_refused(m, "charlie", route, path, body, (404, 422), "/t/beta")

    # dave: nothing of A's resources.
    if op == READ and scope == COLLECTION:
        problems += check_list_hides(m, "dave", route, path, body)
    elif key not in (("GET", "/api/v1/settings"),):
        allowed = (*DENIED, 200) if key in FILTERING_WRITES else DENIED
        problems += check_refused(m, "dave", route, path, body, allowed)

    # bob: reads yes, writes 403.
    if route.path.startswith(OWN_ONLY):
        if op == READ and scope == COLLECTION:
            problems += check_list_hides(m, "bob", route, path, body)
        else:
            problems += check_refused(m, "bob", route, path, body, (404,))
    elif op == READ:
        response = send(m.clients["bob"], route, path, body)
        expected = ALICE.get(key, (200, ""))[0]
        if response.status_code != expected:
            problems.append(f"bob: {route.method} {path}: {response.status_code}, expected {expected}")
    else:
        problems += check_refused(m, "bob", route, path, body, (200, 403) if key in FILTERING_WRITES else (403,))

    # alice: allowed (last, since her writes change the world).
    response = send(m.clients["alice"], route, path, body)
    expected, _ = ALICE.get(key, (200, ""))
    if response.status_code != expected:
        problems.append(
            f"alice: {route.method} {path}: {response.status_code}, expected {expected}: {response.content[:300]!r}"
        )
    assert not problems, "\n".join(problems)


def strip_ids(body, ids):
    """`body` with every id of A taken out: equal to `body` when it names none of A's rows."""
    text = json.dumps(body)
    for i in ids:
        text = text.replace(i, "")
    return json.loads(text)
