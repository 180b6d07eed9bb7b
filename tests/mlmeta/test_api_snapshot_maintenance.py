"""Snapshot pruning (`POST /pipeline_snapshots/prune`) and code downloads (`download-token`, `code`)."""

import pytest
from django.utils import timezone

from mlmeta.models import PipelineSnapshot, TagResource
from tenants import access
from tenants.models import User
from tenants.services import create_tenant
from tests.api_helpers import bearer_client
from tests.conftest import PASSWORD
from tests.mlmeta.pipeline_world import PipelineApi, member

LATER = "2999-01-01T00:00:00"
EARLIER = "2000-01-01T00:00:00"


@pytest.fixture
def api(tenant):
    return bearer_client(member(tenant), tenant)


@pytest.fixture
def zen(api, tenant):
    return PipelineApi(api, tenant)


def anonymous(zen, pipeline, **extra) -> dict:
    return zen.snapshot(pipeline, steps=("load",), **extra)


def prune(zen, older_than=LATER, apply=False, status=200, **extra):
    body = {"project": zen.project, "older_than": older_than, "apply": apply, **extra}
    return zen.call("post", "/pipeline_snapshots/prune", body, status=status)


def test_prune_counts_then_deletes_unreferenced_anonymous_snapshots(zen):
    pipeline = zen.pipeline()
    unused = anonymous(zen, pipeline, tags=["old"])
    named = anonymous(zen, pipeline, name="keep-me")
    ran = anonymous(zen, pipeline)
    zen.run(ran, "r1")
    assert prune(zen) == {"snapshot_count": 1, "task_id": None}
    assert PipelineSnapshot.objects.count() == 3  # a dry run deletes nothing
    assert prune(zen, older_than=EARLIER) == {"snapshot_count": 0, "task_id": None}
    assert prune(zen, apply=True) == {"snapshot_count": 1, "task_id": None}
    remaining = {str(pk) for pk in PipelineSnapshot.objects.values_list("pk", flat=True)}
    assert remaining == {named["id"], ran["id"]}
    assert not TagResource.objects.filter(resource_id=unused["id"]).exists()


def test_prune_follows_derived_snapshots(zen):
    pipeline = zen.pipeline()
    source = anonymous(zen, pipeline)
    anonymous(zen, pipeline, source_snapshot=source["id"])
    assert prune(zen)["snapshot_count"] == 1  # the source is still referenced by the derived one
    assert prune(zen, apply=True)["snapshot_count"] == 2
    assert not PipelineSnapshot.objects.exists()


def test_prune_stays_in_the_project_and_tenant(zen, tenant):
    anonymous(zen, zen.pipeline())
    other = create_tenant("other")
    stranger = User.objects.create_user("stranger", password=PASSWORD)
    access.add_member(other, stranger)
    other_zen = PipelineApi(bearer_client(stranger, other), other, prefix="/t/other")
    body = {"project": zen.project, "older_than": LATER, "apply": True}
    answer = other_zen.call("post", "/pipeline_snapshots/prune", body, status=404)
    assert answer["detail"][0] == "KeyError"
    assert PipelineSnapshot.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"project": "nope", "older_than": LATER},
        {"project": "PROJECT", "older_than": "yesterday", "apply": True},
        {"project": "PROJECT", "apply": True},
        [],
    ],
)
def test_invalid_prune_requests_are_422(zen, body):
    anonymous(zen, zen.pipeline())
    if isinstance(body, dict) and body.get("project") == "PROJECT":
        body = {**body, "project": zen.project}
    response = zen.client.post("/api/v1/pipeline_snapshots/prune", body, format="json")
    assert response.status_code == 422
    assert PipelineSnapshot.objects.count() == 1


# --- code downloads ------------------------------------------------------------------------------
@pytest.fixture
def store_root(settings, tmp_path, zen):
    settings.MLMETA_LOCAL_ARTIFACT_ROOTS = [str(tmp_path)]
    directory = tmp_path / zen.artifact_store
    directory.mkdir()
    return directory


def test_download_snapshot_code_with_a_token(zen, store_root, client):
    archive = store_root / "code_uploads" / "abc.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(b"tarball")
    snapshot = anonymous(zen, zen.pipeline(), code_path=str(archive))
    token = zen.call("get", f"/pipeline_snapshots/{snapshot['id']}/download-token")
    response = client.get(f"/api/v1/pipeline_snapshots/{snapshot['id']}/code", {"token": token})
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"tarball"
    assert "abc.tar.gz" in response["Content-Disposition"]
    forged = client.get(f"/api/v1/pipeline_snapshots/{snapshot['id']}/code", {"token": "forged"})
    assert forged.status_code == 403
    other = anonymous(zen, zen.pipeline("other"), code_path=str(archive))
    assert client.get(f"/api/v1/pipeline_snapshots/{other['id']}/code", {"token": token}).status_code == 403


def test_snapshot_without_code_has_no_download_token(zen):
    snapshot = anonymous(zen, zen.pipeline())
    answer = zen.call("get", f"/pipeline_snapshots/{snapshot['id']}/download-token", status=400)
    assert answer["detail"][0] == "ValueError"


def test_code_outside_the_store_is_refused(zen, store_root, tmp_path, client):
    secret = tmp_path / "secret.tar.gz"
    secret.write_bytes(b"secret")
    snapshot = anonymous(zen, zen.pipeline(), code_path=str(secret))
    token = zen.call("get", f"/pipeline_snapshots/{snapshot['id']}/download-token")
    response = client.get(f"/api/v1/pipeline_snapshots/{snapshot['id']}/code", {"token": token})
    assert response.status_code == 403


def test_expired_code_token_is_refused(zen, store_root, client, settings, monkeypatch):
    archive = store_root / "code.tar.gz"
    archive.write_bytes(b"x")
    snapshot = anonymous(zen, zen.pipeline(), code_path=str(archive))
    token = zen.call("get", f"/pipeline_snapshots/{snapshot['id']}/download-token")
    later = timezone.now().timestamp() + settings.ARTIFACT_DOWNLOAD_TOKEN_SECONDS + 5
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    assert client.get(f"/api/v1/pipeline_snapshots/{snapshot['id']}/code", {"token": token}).status_code == 403
