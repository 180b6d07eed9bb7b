"""Artifacts and artifact versions: batch creation and version numbering (also concurrent),
producers, filters, visualizations and downloads from local stores, pruning, tenants."""

import base64
import io
import threading
import zipfile

import pytest
from django.db import connection

from mlmeta.models import Artifact, ArtifactVersion, RunMetadata
from tenants.services import create_tenant
from tests.api_helpers import bearer_client
from tests.mlmeta.pipeline_world import PIPELINE_RUN, PipelineApi, member, replay, seeded_ids
from tests.traffic import Replayer


@pytest.fixture
def admin(tenant):
    return member(tenant)


@pytest.fixture
def zen(api, tenant):
    return PipelineApi(api, tenant)


@pytest.fixture
def store_root(settings, tmp_path, zen):
    """A local artifact store directory the server may read: <root>/<artifact store id>."""
    settings.MLMETA_LOCAL_ARTIFACT_ROOTS = [str(tmp_path)]
    directory = tmp_path / zen.artifact_store
    directory.mkdir()
    return directory


def test_replayed_batches_number_versions_and_record_producers(api, tenant, admin):
    replayer = Replayer(api, seeded_ids(tenant, admin))
    answers = {e["seq"]: a for e, a in replay(replayer, PIPELINE_RUN)}
    produced, consumed = answers[73][0], answers[78][0]
    assert (produced["body"]["version"], consumed["body"]["version"]) == ("1", "1")
    assert produced["metadata"]["run_metadata"] == {"storage_size": 15, "length": 5}
    assert produced["resources"]["producer_step_run_id"] is None  # not yet an output when created
    loaded = api.get(f"/api/v1/artifact_versions/{consumed['id']}?hydrate=True").json()
    assert loaded["resources"]["producer_step_run_id"] == answers[76]["id"]
    assert loaded["resources"]["producer_pipeline_run_id"] == answers[81]["id"]
    assert loaded["metadata"]["visualizations"][0]["body"]["type"] == "json"
    assert RunMetadata.objects.get(resource_id=consumed["id"], key="storage_size").type == "int"


def test_batch_creates_artifacts_by_name_and_numbers_versions_in_order(zen):
    created = zen.versions("data", "model", "data")
    assert [(v["body"]["artifact"]["name"], v["body"]["version"]) for v in created] == [
        ("data", "1"),
        ("model", "1"),
        ("data", "2"),
    ]
    assert zen.versions("data")[0]["body"]["version"] == "3"
    assert Artifact.objects.filter(name="data").count() == 1


def test_custom_versions_and_conflicts(zen):
    [named] = zen.versions("data", version="golden")
    assert named["body"]["version"] == "golden"
    assert zen.versions("data")[0]["body"]["version"] == "1"
    answer = zen.call("post", "/artifact_versions/batch", [zen.version_body("data", version="golden")], status=409)
    assert answer["detail"][0] == "EntityExistsError"
    zen.call("post", "/artifact_versions/batch", [{"project": zen.project}], status=422)


def test_single_create_and_get(zen):
    body = zen.version_body("single", tags=["gold"], metadata={"accuracy": 0.9}, item_count=3)
    version = zen.call("post", "/artifact_versions", body)
    fetched = zen.call("get", f"/artifact_versions/{version['id']}")
    assert fetched["body"]["item_count"] == 3 and fetched["metadata"]["run_metadata"] == {"accuracy": 0.9}
    assert [t["name"] for t in fetched["resources"]["tags"]] == ["gold"]
    assert "name" not in fetched
    artifact = zen.call("get", f"/artifacts/{fetched['body']['artifact']['id']}")
    assert artifact["resources"]["latest_version_name"] == "1" and artifact["metadata"]["has_custom_name"] is False


def test_update_version_and_artifact(zen):
    [version] = zen.versions("data")
    updated = zen.call("put", f"/artifact_versions/{version['id']}", {"name": "v-one", "add_tags": ["x"]})
    assert updated["body"]["version"] == "v-one" and [t["name"] for t in updated["resources"]["tags"]] == ["x"]
    artifact_id = version["body"]["artifact"]["id"]
    renamed = zen.call("put", f"/artifacts/{artifact_id}", {"name": "dataset", "has_custom_name": True})
    assert renamed["name"] == "dataset" and renamed["metadata"]["has_custom_name"] is True


def test_list_filters(zen):
    snapshot = zen.snapshot(zen.pipeline(), steps=("load",))
    run, _ = zen.run(snapshot, "r", status="running", orchestrator_run_id="o")
    used, unused = zen.versions("data", "other")
    zen.step(run, "load", outputs={"output": [used["id"]]})

    def ids(query):
        return {item["id"] for item in zen.call("get", f"/artifact_versions?size=50&{query}")["items"]}

    assert ids("artifact=data") == ids(f"artifact_id={used['body']['artifact']['id']}") == {used["id"]}
    assert ids("only_unused=True") == {unused["id"]}
    assert ids(f"pipeline_run={run['id']}") == ids("pipeline_run=r") == {used["id"]}
    assert ids("version=1&type=DataArtifact") == {used["id"], unused["id"]}
    assert ids("version_number=gte:2") == set()
    names = [a["name"] for a in zen.call("get", "/artifacts?sort_by=name")["items"]]
    assert names == ["data", "other"]


def test_visualize_reads_local_files(zen, store_root):
    (store_root / "viz.json").write_text('{"a": 1}')
    (store_root / "plot.png").write_bytes(b"\x89PNG-bytes")
    visualizations = [
        {"type": "json", "uri": str(store_root / "viz.json")},
        {"type": "image", "uri": str(store_root / "plot.png")},
    ]
    [version] = zen.versions("data", uri=str(store_root / "data"), visualizations=visualizations)
    path = f"/artifact_versions/{version['id']}/visualize"
    assert zen.call("get", f"{path}?index=0") == {"type": "json", "value": '{"a": 1}'}
    image = zen.call("get", f"{path}?index=1")
    assert image["type"] == "image" and base64.b64decode(image["value"]) == b"\x89PNG-bytes"
    zen.call("get", f"{path}?index=2", status=404)


def test_visualize_refuses_files_outside_the_store(zen, store_root, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    outside = [{"type": "markdown", "uri": str(secret)}, {"type": "html", "uri": str(store_root / ".." / "secret.txt")}]
    remote = [{"type": "html", "uri": "s3://bucket/viz.html"}]
    [local] = zen.versions("data", visualizations=outside)
    [cloud] = zen.versions("data", visualizations=remote)
    path = f"/artifact_versions/{local['id']}/visualize"
    assert zen.call("get", f"{path}?index=0", status=403)["detail"][0] == "IllegalOperationError"
    assert zen.call("get", f"{path}?index=1", status=403)["detail"][0] == "IllegalOperationError"
    zen.call("get", f"/artifact_versions/{cloud['id']}/visualize", status=501)


def test_download_token_and_data(zen, store_root, client):
    data_dir = store_root / "data"
    (data_dir / "sub").mkdir(parents=True)
    (data_dir / "data.json").write_text("[1, 2]")
    (data_dir / "sub" / "meta.txt").write_text("m")
    [version] = zen.versions("data", uri=str(data_dir))
    token = zen.call("get", f"/artifact_versions/{version['id']}/download-token")
    assert isinstance(token, str)
    response = client.get(f"/api/v1/artifact_versions/{version['id']}/data", {"token": token})  # no API credentials
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == ["data.json", "sub/meta.txt"]
    assert client.get(f"/api/v1/artifact_versions/{version['id']}/data", {"token": "forged"}).status_code == 403
    [other] = zen.versions("other", uri=str(data_dir))
    assert client.get(f"/api/v1/artifact_versions/{other['id']}/data", {"token": token}).status_code == 403


def test_prune_deletes_only_unused_versions(zen):
    snapshot = zen.snapshot(zen.pipeline(), steps=("load",))
    run, _ = zen.run(snapshot, "r", status="running", orchestrator_run_id="o")
    used, unused, lonely = zen.versions("data", "data", "lonely", tags=["t"])
    zen.step(run, "load", outputs={"output": [used["id"]]})
    assert zen.call("delete", f"/artifact_versions?project_name_or_id={zen.project}") is None
    assert {str(pk) for pk in ArtifactVersion.objects.values_list("pk", flat=True)} == {used["id"]}
    assert Artifact.objects.filter(name="lonely").exists()
    assert not RunMetadata.objects.filter(resource_id__in=[unused["id"], lonely["id"]]).exists()
    zen.call("delete", "/artifact_versions?only_versions=False")
    assert list(Artifact.objects.values_list("name", flat=True)) == ["data"]


def test_delete_single_version(zen):
    [version] = zen.versions("data")
    assert zen.call("delete", f"/artifact_versions/{version['id']}") is None
    zen.call("get", f"/artifact_versions/{version['id']}", status=404)


@pytest.fixture
def outsider(db):
    other = create_tenant("beta", name="Beta")
    return other, bearer_client(member(other, "charlie"), other)


def test_artifacts_of_another_tenant_are_invisible(zen, outsider, store_root):
    [version] = zen.versions("secret", uri=str(store_root))
    other, client = outsider
    base = "/t/beta/api/v1"
    assert client.get(f"{base}/artifact_versions/{version['id']}").status_code == 404
    assert client.get(f"{base}/artifacts/{version['body']['artifact']['id']}").status_code == 404
    assert client.get(f"{base}/artifact_versions").json()["total"] == 0
    assert client.get(f"{base}/artifacts").json()["total"] == 0
    assert client.get(f"{base}/artifact_versions/{version['id']}/download-token").status_code == 404
    assert client.get(f"{base}/artifact_versions/{version['id']}/visualize").status_code == 404
    theirs = PipelineApi(client, other, prefix="/t/beta")
    reuse = theirs.version_body("x", artifact_id=version["body"]["artifact"]["id"])
    assert client.post(f"{base}/artifact_versions/batch", [reuse], format="json").status_code == 404
    ours_store = theirs.version_body("y", artifact_store_id=zen.artifact_store)
    assert client.post(f"{base}/artifact_versions/batch", [ours_store], format="json").status_code == 404
    client.delete(f"{base}/artifact_versions?only_versions=False")
    assert ArtifactVersion.objects.filter(pk=version["id"]).exists()


def test_a_token_of_one_tenant_does_not_download_from_another(zen, outsider, store_root, client):
    [version] = zen.versions("secret", uri=str(store_root))
    token = zen.call("get", f"/artifact_versions/{version['id']}/download-token")
    response = client.get(f"/t/beta/api/v1/artifact_versions/{version['id']}/data", {"token": token})
    assert response.status_code == 403


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_on_one_artifact_name_get_distinct_versions():
    tenant = create_tenant("acme", name="Acme", is_default=True)
    user = member(tenant)
    workers, per_worker = 4, 5
    barrier = threading.Barrier(workers)
    errors, numbers = [], []

    def work():
        try:
            zen = PipelineApi(bearer_client(user, tenant), tenant)
            barrier.wait()
            for _ in range(per_worker):
                numbers.extend(v["body"]["version"] for v in zen.versions("shared", "shared"))
        except Exception as exc:  # re-raised in the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    total = workers * per_worker * 2
    assert sorted(int(n) for n in numbers) == list(range(1, total + 1))
    assert Artifact.objects.filter(tenant=tenant, name="shared").count() == 1


def test_artifact_versions_page_takes_a_bounded_number_of_queries(zen, api, django_assert_max_num_queries):
    visualizations = [{"type": "json", "uri": "/x.json"}]
    for index in range(20):
        zen.versions(f"a{index % 4}", tags=["t"], metadata={"k": index}, visualizations=visualizations)
    with django_assert_max_num_queries(9):
        page = api.get("/api/v1/artifact_versions?size=20").json()
    assert len(page["items"]) == 20 and all(item["resources"]["tags"] for item in page["items"])
    with django_assert_max_num_queries(11):
        page = api.get("/api/v1/artifact_versions?size=20&hydrate=True").json()
    assert all(item["metadata"]["visualizations"] for item in page["items"])
    with django_assert_max_num_queries(8):
        assert api.get("/api/v1/artifacts?size=20").json()["total"] == 4


def test_artifact_batch_create_takes_a_bounded_number_of_queries(zen, django_assert_max_num_queries):
    zen.versions("data")
    visualizations = [{"type": "json", "uri": "/x.json"}]
    with django_assert_max_num_queries(18):
        [version] = zen.versions("data", metadata={"k": 1}, visualizations=visualizations)
    assert version["body"]["version"] == "2" and version["metadata"]["run_metadata"] == {"k": 1}
