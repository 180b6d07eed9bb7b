"""Service connectors: the types as the real client knows them, CRUD with secret attributes kept
in the secrets backend, verify, resource listing, client credentials (STS against moto's
standalone server on loopback), and the server reading an S3 artifact store through a connector."""

import json
import uuid
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from secrets_app.models import Secret, ServiceConnector
from tests.api_helpers import bearer_client
from tests.conftest import make_user
from tests.secrets_app.helpers import database_dump, free_port, marker

REAL_TYPES = json.loads((Path(__file__).parents[1] / "fixtures" / "zenml" / "connector_types.json").read_text())
UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing listens
ROLE_ARN = "arn:aws:iam::123456789012:role/mlmeta-reader"


@pytest.fixture(scope="session")
def moto_url():
    """moto's standalone server (S3, STS, ...) on a free loopback port."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def admin(tenant):
    return make_user("admin", tenant, is_admin=True)


@pytest.fixture
def dev(tenant):
    """A tenant developer: may use connectors (`client`), may not read others' secret values."""
    return bearer_client(make_user("dev", tenant), tenant)


@pytest.fixture
def viewer(tenant):
    return bearer_client(make_user("viewer", tenant, role="tenant-viewer"), tenant)


def aws_body(name="aws", auth_method="secret-key", endpoint=UNREACHABLE, resource_type="s3-bucket", **config):
    configuration = {
        "aws_access_key_id": config.pop("key_id", "AKIAEXAMPLE"),
        "aws_secret_access_key": config.pop("secret", marker("aws-secret")),
        "region": "us-east-1",
        "endpoint_url": endpoint,
        **config,
    }
    body = {"name": name, "connector_type": "aws", "auth_method": auth_method, "configuration": configuration}
    if resource_type:
        body["resource_types"] = [resource_type]
    return body


def create(api, body, status=200) -> dict:
    response = api.post("/api/v1/service_connectors", body, format="json")
    assert response.status_code == status, response.content
    return response.json()


def s3_bucket(moto_url: str, *objects: tuple[str, bytes]) -> str:
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client(
        "s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    s3.create_bucket(Bucket=name)
    for key, data in objects:
        s3.put_object(Bucket=name, Key=key, Body=data)
    return name


# --- types -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["aws", "kubernetes", "docker"])
def test_types_match_the_real_servers_field_by_field(api, name):
    ours = api.get(f"/api/v1/service_connector_types/{name}").json()
    real = REAL_TYPES[name]
    assert set(ours) == set(real)
    for key in ("name", "connector_type", "logo_url", "emoji"):
        assert ours[key] == real[key], key
    assert ours["supports_auto_configuration"] is False
    real_methods = {m["auth_method"]: m for m in real["auth_methods"]}
    for method in ours["auth_methods"]:
        if method["auth_method"] not in real_methods:
            assert (name, method["auth_method"]) == ("kubernetes", "kubeconfig")  # our addition
            continue
        theirs = real_methods[method["auth_method"]]
        assert set(method) == set(theirs)
        for key in ("name", "min_expiration_seconds", "max_expiration_seconds", "default_expiration_seconds"):
            assert method[key] == theirs[key], (method["auth_method"], key)
        for key in ("title", "type", "required"):
            assert method["config_schema"][key] == theirs["config_schema"][key], (method["auth_method"], key)
        real_properties = theirs["config_schema"]["properties"]
        properties = method["config_schema"]["properties"]
        assert list(properties) == list(real_properties), method["auth_method"]
        for attribute, schema in properties.items():
            if attribute == "endpoint_url":  # ours says what it is for (S3-compatible stores)
                assert "S3-compatible" in schema.pop("description")
            assert schema == real_properties[attribute], (method["auth_method"], attribute)
    real_resources = {r["resource_type"]: r for r in real["resource_types"]}
    assert [r["resource_type"] for r in ours["resource_types"]] == list(real_resources)
    for resource in ours["resource_types"]:
        theirs = real_resources[resource["resource_type"]]
        for key in ("name", "supports_instances", "logo_url", "emoji"):
            assert resource[key] == theirs[key], (resource["resource_type"], key)
        assert set(resource["auth_methods"]) <= set(theirs["auth_methods"]) | {"kubeconfig"}


def test_list_types_filters_by_resource_type_and_auth_method(api):
    listed = api.get("/api/v1/service_connector_types").json()
    assert {t["connector_type"] for t in listed} == {"aws", "kubernetes", "docker", "generic"}
    clusters = api.get("/api/v1/service_connector_types", {"resource_type": "kubernetes-cluster"}).json()
    assert {t["connector_type"] for t in clusters} == {"aws", "kubernetes"}
    tokens = api.get("/api/v1/service_connector_types", {"auth_method": "iam-role"}).json()
    assert [t["connector_type"] for t in tokens] == ["aws"]
    missing = api.get("/api/v1/service_connector_types/gcp")
    assert missing.status_code == 404 and "gcp" in missing.json()["detail"][1]


# --- CRUD and secrets ------------------------------------------------------------------------
def test_create_keeps_secret_attributes_in_the_secrets_backend(api, viewer):
    secret = marker("aws")
    created = create(api, aws_body(secret=secret))
    connector = ServiceConnector.objects.get(pk=created["id"])
    assert "aws_secret_access_key" not in connector.configuration
    assert connector.configuration == {"region": "us-east-1", "endpoint_url": UNREACHABLE}
    assert secret not in database_dump()  # encrypted by the sql backend
    assert connector.secret.read_values("test")["aws_secret_access_key"] == secret
    assert created["body"]["connector_type"]["connector_type"] == "aws"
    assert created["body"]["resource_types"] == ["s3-bucket"] and created["body"]["supports_instances"] is True
    assert created["metadata"]["configuration"]["aws_secret_access_key"] == secret  # the creator's own

    fetched = api.get(f"/api/v1/service_connectors/{created['id']}").json()
    assert fetched["metadata"]["configuration"]["aws_secret_access_key"] == secret
    unexpanded = api.get(f"/api/v1/service_connectors/{created['id']}", {"expand_secrets": "false"}).json()
    assert "aws_secret_access_key" not in unexpanded["metadata"]["configuration"]
    other = viewer.get(f"/api/v1/service_connectors/{created['id']}").json()  # no read_secret_value
    assert other["metadata"]["configuration"] == {"region": "us-east-1", "endpoint_url": UNREACHABLE}
    hydrated = viewer.get("/api/v1/service_connectors", {"hydrate": "true"}).json()
    assert secret not in json.dumps(hydrated) and hydrated["total"] == 1
    assert secret not in json.dumps(api.get("/api/v1/service_connectors").json())


def test_connector_secrets_are_not_listed_as_secrets(api):
    create(api, aws_body())
    assert Secret.objects.count() == 1
    assert api.get("/api/v1/secrets").json()["items"] == []


def test_bad_connector_requests_are_422_naming_the_problem(api):
    cases = [
        ({**aws_body(), "connector_type": "gcp"}, "gcp"),
        (aws_body(auth_method="magic"), "magic"),
        (aws_body(resource_type="bigquery"), "bigquery"),
        ({**aws_body(), "configuration": {"aws_access_key_id": "a", "region": "r"}}, "aws_secret_access_key"),
        (aws_body(auth_method="iam-role"), "role_arn"),
        ({**aws_body(), "configuration": {**aws_body()["configuration"], "aws_secret_access_key": 7}}, "not a string"),
        ({**aws_body(), "connector_type": {"no": "name"}}, "connector_type"),
    ]
    for body, named in cases:
        response = api.post("/api/v1/service_connectors", body, format="json")
        assert response.status_code == 422, (body, response.content)
        assert named in json.dumps(response.json()), (named, response.json())
    assert not ServiceConnector.objects.exists() and not Secret.objects.exists()


def test_duplicate_name_is_409(api):
    create(api, aws_body())
    response = api.post("/api/v1/service_connectors", aws_body(), format="json")
    assert response.status_code == 409 and Secret.objects.count() == 1


def test_update_replaces_configuration_and_secret(api):
    created = create(api, aws_body(secret="old-secret"))
    body = {
        "configuration": {"aws_access_key_id": "AKIANEW", "aws_secret_access_key": "new-secret", "region": "eu-west-1"},
        "labels": {"team": "ml"},
        "resource_types": ["aws-generic"],
    }
    response = api.put(f"/api/v1/service_connectors/{created['id']}", body, format="json")
    assert response.status_code == 200, response.content
    updated = response.json()
    assert updated["metadata"]["configuration"] == {**body["configuration"]}
    assert updated["metadata"]["labels"] == {"team": "ml"} and updated["body"]["resource_types"] == ["aws-generic"]
    connector = ServiceConnector.objects.get(pk=created["id"])
    assert connector.secret_values("test") == {"aws_access_key_id": "AKIANEW", "aws_secret_access_key": "new-secret"}
    assert Secret.objects.count() == 1
    labelled = api.get("/api/v1/service_connectors", {"labels_str": json.dumps({"team": "ml"})}).json()
    assert labelled["total"] == 1
    assert api.get("/api/v1/service_connectors", {"labels_str": '{"team": "x"}'}).json()["total"] == 0
    assert api.get("/api/v1/service_connectors", {"resource_type": "aws-generic"}).json()["total"] == 1
    assert api.get("/api/v1/service_connectors", {"resource_type": "s3-bucket"}).json()["total"] == 0


def test_update_to_another_auth_method_needs_its_attributes(api):
    created = create(api, aws_body())
    response = api.put(f"/api/v1/service_connectors/{created['id']}", {"auth_method": "iam-role"}, format="json")
    assert response.status_code == 422 and "role_arn" in json.dumps(response.json())
    assert ServiceConnector.objects.get(pk=created["id"]).auth_method == "secret-key"


def test_delete_removes_the_secret_and_is_refused_while_a_component_uses_it(api):
    created = create(api, aws_body())
    component = api.post(
        "/api/v1/components",
        {
            "name": "s3",
            "type": "artifact_store",
            "flavor": "s3",
            "configuration": {"path": "s3://b"},
            "connector": created["id"],
        },
        format="json",
    )
    assert component.status_code == 200, component.content
    refused = api.delete(f"/api/v1/service_connectors/{created['id']}")
    assert refused.status_code == 403 and "referenced" in refused.json()["detail"][1]
    assert api.delete(f"/api/v1/components/{component.json()['id']}").status_code == 200
    assert api.delete(f"/api/v1/service_connectors/{created['id']}").status_code == 200
    assert not ServiceConnector.objects.exists() and not Secret.objects.exists()


def test_viewer_may_not_create_and_other_tenants_do_not_see(api, viewer, other, admin):
    assert viewer.post("/api/v1/service_connectors", aws_body(), format="json").status_code == 403
    created = create(api, aws_body())
    outsider = bearer_client(make_user("outsider", other, is_admin=True), other)
    assert outsider.get(f"/t/other/api/v1/service_connectors/{created['id']}").status_code == 404
    assert outsider.get("/t/other/api/v1/service_connectors").json()["total"] == 0


# --- verify ----------------------------------------------------------------------------------
def test_verify_an_unreachable_endpoint_answers_with_the_error(api):
    response = api.post("/api/v1/service_connectors/verify", aws_body(), format="json")
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["error"] and "127.0.0.1:9" in result["error"]
    assert result["connector_type"]["connector_type"] == "aws" and result["id"] is None
    assert not ServiceConnector.objects.exists()


def test_verify_kubernetes_without_a_cluster_says_so(api):
    body = {
        "name": "k8s",
        "connector_type": "kubernetes",
        "auth_method": "token",
        "configuration": {"server": "https://127.0.0.1:9", "token": marker("k8s"), "cluster_name": "prod"},
    }
    result = api.post("/api/v1/service_connectors/verify", body, format="json").json()
    assert "Cannot reach the Kubernetes cluster" in result["error"]
    assert body["configuration"]["token"] not in json.dumps(result)
    broken = {**body, "auth_method": "kubeconfig", "configuration": {"kubeconfig": "{not: [yaml"}}
    assert "not valid YAML" in api.post("/api/v1/service_connectors/verify", broken, format="json").json()["error"]


def test_verify_docker_registry_unreachable(api):
    body = {
        "name": "registry",
        "connector_type": "docker",
        "auth_method": "password",
        "configuration": {"username": "u", "password": marker("docker"), "registry": UNREACHABLE},
    }
    result = api.post("/api/v1/service_connectors/verify", body, format="json").json()
    assert "Cannot reach the registry" in result["error"]
    assert result["resources"] == [{"resource_type": "docker-registry", "resource_ids": None, "error": None}]


def test_verify_lists_buckets_through_moto(api, moto_url):
    bucket = s3_bucket(moto_url)
    created = create(api, aws_body(endpoint=moto_url))
    response = api.put(f"/api/v1/service_connectors/{created['id']}/verify")
    assert response.status_code == 200, response.content
    [resources] = response.json()["resources"]
    assert response.json()["error"] is None and f"s3://{bucket}" in resources["resource_ids"]
    one = api.put(f"/api/v1/service_connectors/{created['id']}/verify", QUERY_STRING=f"resource_id=s3://{bucket}")
    assert one.json()["resources"][0]["resource_ids"] == [f"s3://{bucket}"]
    listed = api.get("/api/v1/service_connectors/resources", {"resource_type": "s3-bucket"}).json()
    assert [entry["id"] for entry in listed] == [created["id"]]
    assert f"s3://{bucket}" in listed[0]["resources"][0]["resource_ids"]


# --- client credentials ----------------------------------------------------------------------
def test_client_for_iam_role_returns_expiring_sts_credentials(api, dev, viewer, moto_url):
    secret = marker("long-lived")
    body = aws_body(
        auth_method="iam-role", endpoint=moto_url, resource_type="aws-generic", secret=secret, role_arn=ROLE_ARN
    )
    created = create(api, {**body, "expiration_seconds": 900})
    response = dev.get(f"/api/v1/service_connectors/{created['id']}/client")
    assert response.status_code == 200, response.content
    issued = response.json()
    assert issued["body"]["auth_method"] == "sts-token" and issued["body"]["expires_at"]
    config = issued["metadata"]["configuration"]
    assert config["aws_session_token"] and config["aws_access_key_id"] != "AKIAEXAMPLE"
    assert secret not in json.dumps(issued)
    assert viewer.get(f"/api/v1/service_connectors/{created['id']}/client").status_code == 403
    sts = boto3.client("sts", endpoint_url=moto_url, region_name="us-east-1", **_keys(config))
    assert "assumed-role/mlmeta-reader" in sts.get_caller_identity()["Arn"]


def test_client_expiration_outside_the_methods_bounds_is_422(api, moto_url):
    body = aws_body(auth_method="session-token", endpoint=moto_url, resource_type="aws-generic")
    response = api.post("/api/v1/service_connectors", {**body, "expiration_seconds": 60}, format="json")
    assert response.status_code == 422 and "expiration_seconds" in json.dumps(response.json())


def test_client_of_a_multi_instance_resource_needs_its_id(api, moto_url):
    created = create(api, aws_body(endpoint=moto_url))
    response = api.get(f"/api/v1/service_connectors/{created['id']}/client")
    assert response.status_code == 422 and "resource_id" in json.dumps(response.json())


# --- the server reads S3 artifact stores through connectors ----------------------------------
def test_visualize_reads_an_s3_store_through_its_connector(api, moto_url, project):
    html = b"<html><body>model report</body></html>"
    bucket = s3_bucket(moto_url, ("runs/1/vis.html", html), ("runs/1/data/part-0", b"rows"))
    connector = create(api, aws_body(endpoint=moto_url, auth_method="secret-key", resource_type="s3-bucket"))
    store = api.post(
        "/api/v1/components",
        {
            "name": "s3-store",
            "type": "artifact_store",
            "flavor": "s3",
            "configuration": {"path": f"s3://{bucket}"},
            "connector": connector["id"],
            "connector_resource_id": f"s3://{bucket}",
        },
        format="json",
    )
    assert store.status_code == 200, store.content
    version = api.post(
        "/api/v1/artifact_versions",
        {
            "project": str(project.pk),
            "artifact_name": "report",
            "type": "DataArtifact",
            "artifact_store_id": store.json()["id"],
            "uri": f"s3://{bucket}/runs/1/data",
            "materializer": {"module": "m", "attribute": "M", "type": "internal"},
            "data_type": {"module": "builtins", "attribute": "str", "type": "builtin"},
            "save_type": "step_output",
            "visualizations": [
                {"type": "html", "uri": f"s3://{bucket}/runs/1/vis.html"},
                {"type": "html", "uri": f"s3://{bucket}/runs/1/missing.html"},
                {"type": "html", "uri": "s3://elsewhere/x.html"},
            ],
        },
        format="json",
    )
    assert version.status_code == 200, version.content
    path = f"/api/v1/artifact_versions/{version.json()['id']}/visualize"
    shown = api.get(path)
    assert shown.status_code == 200, shown.content
    assert shown.json() == {"type": "html", "value": html.decode()}
    assert api.get(path, {"index": 1}).status_code == 404
    assert api.get(path, {"index": 2}).status_code == 403

    token = api.get(f"/api/v1/artifact_versions/{version.json()['id']}/download-token").json()
    download = api.get(f"/api/v1/artifact_versions/{version.json()['id']}/data", {"token": token})
    assert download.status_code == 200
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as zipped:
        assert zipped.read("part-0") == b"rows"


def _keys(config: dict) -> dict:
    return {k: config[k] for k in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")}


def test_system_check_names_a_bad_connector_type_path(settings):
    from secrets_app.checks import check_connector_types

    assert check_connector_types(None) == []
    settings.SERVICE_CONNECTOR_TYPES = {**settings.SERVICE_CONNECTOR_TYPES, "gcp": "secrets_app.connectors.nope.GCP"}
    settings.SERVICE_CONNECTOR_TYPES["docker"] = "secrets_app.connectors.aws.AWSConnector"
    errors = {error.id: error.msg for error in check_connector_types(None)}
    assert "gcp" in errors["secrets.E004"] and "docker" in errors["secrets.E005"]


def test_admin_delete_removes_the_internal_secret(api, admin, client):
    created = create(api, aws_body())
    admin.is_superuser = admin.is_staff = True
    admin.save()
    client.force_login(admin)
    response = client.post(f"/admin/secrets_app/serviceconnector/{created['id']}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content[:500]
    assert not ServiceConnector.objects.exists() and not Secret.objects.exists()
