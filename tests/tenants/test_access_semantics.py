"""What each role may do beyond the matrix's four personas: creators own what they create,
contributors see their own stacks, project roles stop at their project, stack admins see no runs,
a shared resource becomes readable; nested rows the caller may not read are `permission_denied`;
list pages cost a fixed number of queries whatever their size; and the holes found in custom
endpoints stay closed."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mlmeta.models import ModelVersion, ModelVersionArtifact, PipelineRun, PipelineSnapshot, Stack
from secrets_app.models import Secret
from tenants import access
from tenants.models import AuditEvent, Project
from tests.api_helpers import bearer_client
from tests.api_world import build_world, fingerprint, member


@pytest.fixture
def world(tenant_a):
    return build_world(tenant_a, member("alice", tenant_a, "tenant-admin"))


def client(world, username, role, **scope):
    return bearer_client(member(username, world.tenant, role, **scope), world.tenant)


def stack_body(world, name) -> dict:
    orchestrator = next(c for c in world[Stack].components.all() if c.type == "orchestrator")
    return {
        "name": name,
        "components": {"orchestrator": [str(orchestrator.pk)], "artifact_store": [str(world.store.pk)]},
    }


def unaudited_fingerprint():
    return fingerprint(exclude=(AuditEvent,))


# --- owners, contributors, project and stack roles, sharing --------------------------------
def test_developer_changes_own_stack_and_updates_but_cannot_delete_anothers(world):
    eve = client(world, "eve", "tenant-developer")
    own = eve.post("/api/v1/stacks", stack_body(world, "eve-stack"), format="json")
    assert own.status_code == 200, own.content
    own_id, theirs = own.json()["id"], world[Stack].pk
    assert eve.put(f"/api/v1/stacks/{own_id}", {"description": "mine"}, format="json").status_code == 200
    assert eve.put(f"/api/v1/stacks/{theirs}", {"description": "edited"}, format="json").status_code == 200
    refused = eve.delete(f"/api/v1/stacks/{theirs}")
    assert refused.status_code == 403
    assert Stack.objects.filter(pk=theirs).exists()
    assert eve.delete(f"/api/v1/stacks/{own_id}").status_code == 200
    assert not Stack.objects.filter(pk=own_id).exists()


def test_contributor_sees_only_own_stacks(world):
    carol = client(world, "carol", "tenant-contributor")
    components = {}
    for kind in ("orchestrator", "artifact_store"):
        body = {"name": f"carol-{kind}", "type": kind, "flavor": "local", "configuration": {}}
        response = carol.post("/api/v1/components", body, format="json")
        assert response.status_code == 200, response.content
        components[kind] = [response.json()["id"]]
    assert carol.post("/api/v1/stacks", stack_body(world, "borrowed"), format="json").status_code == 404
    created = carol.post("/api/v1/stacks", {"name": "carol-stack", "components": components}, format="json")
    assert created.status_code == 200, created.content
    listed = carol.get("/api/v1/stacks").json()["items"]
    assert [item["name"] for item in listed] == ["carol-stack"]
    assert carol.get(f"/api/v1/stacks/{world[Stack].pk}").status_code == 404


def test_project_viewer_sees_only_their_projects_runs(world):
    project = world[Project]
    pat = client(world, "pat", "project-viewer", project=project)
    other = Project.objects.get(tenant=world.tenant, name="default")
    dave = client(world, "dave", "project-viewer", project=other)
    run = world[PipelineRun]
    assert [item["id"] for item in pat.get("/api/v1/runs").json()["items"]] == [str(run.pk)]
    assert pat.get(f"/api/v1/runs/{run.pk}").status_code == 200
    assert dave.get("/api/v1/runs").json()["items"] == []
    assert dave.get(f"/api/v1/runs/{run.pk}").status_code == 404
    assert pat.put(f"/api/v1/runs/{run.pk}", {"status": "failed"}, format="json").status_code == 403


def test_stack_admin_manages_stacks_but_sees_no_runs(world):
    sam = client(world, "sam", "stack-admin")
    created = sam.post("/api/v1/stacks", stack_body(world, "sam-stack"), format="json")
    assert created.status_code == 200, created.content
    assert sam.put(f"/api/v1/stacks/{world[Stack].pk}", {"description": "x"}, format="json").status_code == 200
    assert sam.delete(f"/api/v1/stacks/{created.json()['id']}").status_code == 200
    assert sam.get("/api/v1/runs").json()["items"] == []
    assert sam.get(f"/api/v1/runs/{world[PipelineRun].pk}").status_code == 404


def test_a_shared_run_becomes_readable_and_nothing_else(world):
    frank_user = member("frank", world.tenant, "project-viewer", project=Project.objects.get(name="default"))
    frank = bearer_client(frank_user, world.tenant)
    run = world[PipelineRun]
    assert frank.get(f"/api/v1/runs/{run.pk}").status_code == 404
    access.assign_role(
        "project-viewer", user=frank_user, tenant=world.tenant, resource_type="pipeline_run", resource_id=run.pk
    )
    frank = bearer_client(frank_user, world.tenant)
    assert frank.get(f"/api/v1/runs/{run.pk}").status_code == 200
    assert [item["id"] for item in frank.get("/api/v1/runs").json()["items"]] == [str(run.pk)]
    assert frank.get("/api/v1/pipelines").json()["items"] == []
    assert frank.put(f"/api/v1/runs/{run.pk}", {"status": "failed"}, format="json").status_code == 403


# --- permission_denied ---------------------------------------------------------------------
def is_denied(nested, row) -> bool:
    return nested == {
        "body": None,
        "metadata": None,
        "resources": None,
        "id": str(row.pk),
        "permission_denied": True,
        "name": row.name,
    }


def test_a_runs_stack_hidden_from_a_project_viewer_is_permission_denied(world):
    pat = client(world, "pat", "project-viewer", project=world[Project])
    run, stack = world[PipelineRun], world[Stack]
    response = pat.get(f"/api/v1/runs/{run.pk}")
    assert response.status_code == 200
    resources = response.json()["resources"]
    assert is_denied(resources["stack"], stack)
    assert resources["pipeline"]["permission_denied"] is False and resources["pipeline"]["body"] is not None
    listed = pat.get("/api/v1/runs").json()["items"][0]["resources"]
    assert is_denied(listed["stack"], stack)
    snapshot = pat.get(f"/api/v1/pipeline_snapshots/{run.snapshot_id}").json()["resources"]
    assert is_denied(snapshot["stack"], stack)


def test_a_page_shows_each_runs_stack_as_the_caller_may_read_it(world):
    """A page builds each related row once and shares it between its runs: a run on a stack shared
    with the caller and a run on a hidden stack still show their own, each as allowed."""
    pat_user = member("pat", world.tenant, "project-viewer", project=world[Project])
    run, hidden = world[PipelineRun], world[Stack]
    shared = Stack.objects.create(name="shared-stack", tenant=world.tenant, user=world.member)
    access.assign_role(
        "tenant-viewer", user=pat_user, tenant=world.tenant, resource_type="stack", resource_id=shared.pk
    )
    snapshot = PipelineSnapshot.objects.create(pipeline=run.pipeline, stack=shared, project=run.project, user=run.user)
    other = PipelineRun.objects.create(
        name="on-shared", pipeline=run.pipeline, snapshot=snapshot, stack=shared, project=run.project, user=run.user
    )
    items = bearer_client(pat_user, world.tenant).get("/api/v1/runs?size=20").json()["items"]
    resources = {item["id"]: item["resources"] for item in items}
    assert is_denied(resources[str(run.pk)]["stack"], hidden)
    assert resources[str(other.pk)]["stack"]["name"] == "shared-stack"
    assert resources[str(other.pk)]["stack"]["body"] is not None
    assert resources[str(run.pk)]["snapshot"]["id"] == str(run.snapshot_id)
    assert resources[str(other.pk)]["snapshot"]["id"] == str(snapshot.pk)
    assert resources[str(run.pk)]["pipeline"] == resources[str(other.pk)]["pipeline"]
    assert resources[str(other.pk)]["pipeline"]["permission_denied"] is False


def test_nested_rows_are_shown_to_tenant_readers(world):
    bob = client(world, "bob", "tenant-viewer")
    resources = bob.get(f"/api/v1/runs/{world[PipelineRun].pk}").json()["resources"]
    for name in ("stack", "pipeline", "snapshot", "code_reference", "model_version"):
        assert resources[name]["permission_denied"] is False and resources[name]["body"] is not None, name


def test_a_shared_model_version_shows_its_model_as_permission_denied(world):
    frank_user = member("frank", world.tenant, "project-viewer", project=Project.objects.get(name="default"))
    version = world[ModelVersion]
    access.assign_role(
        "project-viewer", user=frank_user, tenant=world.tenant, resource_type="model_version", resource_id=version.pk
    )
    response = bearer_client(frank_user, world.tenant).get(f"/api/v1/model_versions/{version.pk}")
    assert response.status_code == 200
    model = response.json()["body"]["model"]
    assert model["permission_denied"] is True and model["body"] is None and model["id"] == str(version.model_id)


# --- query counts --------------------------------------------------------------------------
def more_runs(world, count: int) -> None:
    run = world[PipelineRun]
    for index in range(count):
        PipelineRun.objects.create(
            name=f"extra-{index}",
            project=run.project,
            user=run.user,
            pipeline=run.pipeline,
            snapshot=run.snapshot,
            stack=run.stack,
            build=run.build,
            schedule=run.schedule,
            model_version=run.model_version,
            status=run.status,
        )


def queries_of(api, path) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert api.get(path).status_code == 200
    return len(captured)


@pytest.mark.parametrize("role,scope", [("tenant-viewer", {}), ("project-viewer", {"project": True})])
def test_runs_page_queries_do_not_grow_with_rows(world, role, scope, django_assert_max_num_queries):
    scope = {"project": world[Project]} if scope else {}
    api = client(world, "reader", role, **scope)
    one = queries_of(api, "/api/v1/runs")
    more_runs(world, 15)
    assert queries_of(api, "/api/v1/runs") == one
    # The page reads its related rows with per-page IN queries (no 18-way join): a fixed few more.
    with django_assert_max_num_queries(18 if scope else 12):
        assert len(api.get("/api/v1/runs").json()["items"]) == 16


def test_other_list_pages_as_a_viewer_are_bounded(world, django_assert_max_num_queries):
    bob = client(world, "bob", "tenant-viewer")
    for path in ("/api/v1/steps", "/api/v1/artifact_versions", "/api/v1/model_versions", "/api/v1/pipeline_snapshots"):
        with django_assert_max_num_queries(12):
            assert bob.get(path).status_code == 200, path


# --- holes that were open -------------------------------------------------------------------
def test_a_viewer_cannot_unlink_model_version_artifacts(world):
    bob = client(world, "bob", "tenant-viewer")
    version = world[ModelVersion]
    link = ModelVersionArtifact.objects.get(model_version=version)
    before = unaudited_fingerprint()
    assert bob.delete(f"/api/v1/model_versions/{version.pk}/artifacts").status_code == 403
    assert bob.delete(f"/api/v1/model_versions/{version.pk}/artifacts/{link.pk}").status_code == 403
    assert unaudited_fingerprint() == before
    assert AuditEvent.objects.filter(action="permission_denied", resource_id=str(version.pk)).count() == 2


@pytest.mark.parametrize(
    "path,body",
    [
        (
            "/api/v1/runs",
            lambda w: {
                "project": str(w[Project].pk),
                "name": "x",
                "snapshot": str(w[PipelineRun].snapshot_id),
                "status": "running",
                "orchestrator_run_id": "x",
            },
        ),
        ("/api/v1/secrets", lambda w: {"name": "x", "values": {"k": "v"}}),
    ],
)
def test_creates_without_the_permission_write_nothing(world, path, body):
    viewer = client(world, "bob", "tenant-viewer")
    before = unaudited_fingerprint()
    response = viewer.post(path, body(world), format="json")
    assert response.status_code == 403, response.content
    assert unaudited_fingerprint() == before


def test_only_a_secrets_owner_makes_it_private(world):
    secret = world[Secret]
    eve = client(world, "eve", "tenant-developer")
    response = eve.put(f"/api/v1/secrets/{secret.pk}", {"private": True}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"][0] == "IllegalOperationError"
    secret.refresh_from_db()
    assert secret.private is False
    assert AuditEvent.objects.filter(action="permission_denied", resource_id=str(secret.pk)).exists()
    assert eve.put(f"/api/v1/secrets/{secret.pk}", {"name": "renamed"}, format="json").status_code == 200
    assert world.api.put(f"/api/v1/secrets/{secret.pk}", {"private": True}, format="json").status_code == 200


def test_pruning_needs_the_prune_permission(world):
    bob = client(world, "bob", "tenant-viewer")
    body = {"project": str(world[Project].pk), "older_than": "2100-01-01T00:00:00"}
    assert bob.post("/api/v1/pipeline_snapshots/prune", body, format="json").status_code == 403
    assert bob.delete("/api/v1/artifact_versions").status_code == 403
    assert world.api.post("/api/v1/pipeline_snapshots/prune", body, format="json").status_code == 200


def test_stack_admins_sync_flavors_viewers_do_not(world):
    assert client(world, "sam", "stack-admin").patch("/api/v1/flavors/sync").status_code == 200
    assert client(world, "bob", "tenant-viewer").patch("/api/v1/flavors/sync").status_code == 403


# --- rbac.allowed_ids with the rows' tenant -------------------------------------------------
def test_allowed_ids_answers_tenant_wide_readers_without_a_query(world, django_assert_num_queries):
    from tenants import rbac

    bob = member("bob", world.tenant, "tenant-viewer")
    ids = {world[Stack].pk, world[PipelineRun].pk}
    rbac.grants(bob)
    with django_assert_num_queries(0):
        assert rbac.allowed_ids(bob, "read", Stack, [world[Stack].pk], tenant=world.tenant) == {world[Stack].pk}
    pat = member("pat", world.tenant, "project-viewer", project=world[Project])
    rbac.grants(pat)
    with django_assert_num_queries(1):
        assert rbac.allowed_ids(pat, "read", PipelineRun, ids, tenant=world.tenant) == {world[PipelineRun].pk}
    with django_assert_num_queries(1):  # stacks pat created would be his
        assert rbac.allowed_ids(pat, "read", Stack, [world[Stack].pk], tenant=world.tenant) == set()
