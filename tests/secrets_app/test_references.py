"""Secret references `{{secret_name.key}}` in component configurations resolve server-side only
for callers allowed to read the secret's values; a private secret of someone else never does;
unknown secrets and keys are a clear 404. The S3 artifact-store reader resolves them (moto's
standalone server on loopback stands in for S3)."""

import pytest
from moto.server import ThreadedMotoServer

from core.api.exceptions import EntityNotFound, IllegalOperationError
from secrets_app.references import resolve_references
from tenants.models import AuditEvent
from tests.api_helpers import bearer_client
from tests.conftest import make_user
from tests.secrets_app.helpers import create_secret, free_port, marker
from tests.secrets_app.test_api_connectors import s3_bucket

TOKEN = marker("reference")


@pytest.fixture
def admin(tenant):
    return make_user("admin", tenant, is_admin=True)


@pytest.fixture
def dev(tenant):
    return make_user("dev", tenant)


@pytest.fixture
def viewer(tenant):
    return make_user("viewer", tenant, role="tenant-viewer")


@pytest.fixture
def creds(api):
    return create_secret(api, "creds", {"token": TOKEN, "user": "svc"})


def test_references_resolve_for_a_reader_of_values(tenant, dev, creds):
    config = {"url": "https://x", "auth": {"token": "{{ creds.token }}", "list": ["{{creds.user}}", "plain"]}}
    resolved = resolve_references(config, dev, tenant)
    assert resolved == {"url": "https://x", "auth": {"token": TOKEN, "list": ["svc", "plain"]}}
    events = AuditEvent.objects.filter(action="read_secret_value", actor=dev)
    assert sorted(e.detail for e in events) == [
        "key token (a configuration's reference)",
        "key user (a configuration's reference)",
    ]
    assert all(TOKEN not in repr(e.__dict__) for e in events)


def test_a_viewer_gets_a_403_naming_the_secret(tenant, viewer, creds):
    with pytest.raises(IllegalOperationError) as refused:
        resolve_references({"token": "{{creds.token}}"}, viewer, tenant)
    assert "`creds`" in refused.value.message and "may not read its values" in refused.value.message
    assert TOKEN not in refused.value.message


def test_a_private_secret_resolves_for_its_owner_only(tenant, api, admin, dev):
    create_secret(api, "mine", {"k": "private-value"}, private=True)
    assert resolve_references("{{mine.k}}", admin, tenant) == "private-value"
    with pytest.raises(EntityNotFound):
        resolve_references("{{mine.k}}", dev, tenant)
    superuser = make_user("root", tenant, is_superuser=True)
    with pytest.raises(EntityNotFound):  # not even an operator borrows someone's private secret
        resolve_references("{{mine.k}}", superuser, tenant)
    with pytest.raises(IllegalOperationError):  # nor lends it to a component someone else created
        resolve_references("{{mine.k}}", admin, tenant, owner=dev)


def test_unknown_secrets_and_keys_are_404_naming_them(tenant, dev, creds, other):
    with pytest.raises(EntityNotFound) as unknown:
        resolve_references("{{nope.k}}", dev, tenant)
    assert "`nope`" in unknown.value.message
    with pytest.raises(EntityNotFound) as no_key:
        resolve_references("{{creds.missing}}", dev, tenant)
    assert "`creds` has no key `missing`" in no_key.value.message
    with pytest.raises(EntityNotFound):  # another tenant's secret of that name does not exist here
        resolve_references("{{creds.token}}", dev, other)


def test_the_components_creator_must_be_allowed_too(tenant, admin, viewer, creds):
    with pytest.raises(IllegalOperationError) as refused:
        resolve_references("{{creds.token}}", admin, tenant, owner=viewer)
    assert "creator (viewer)" in refused.value.message


def test_non_references_are_left_alone(tenant, viewer):
    config = {"a": "{{ not a reference", "b": "{{x}}", "c": 5, "d": None, "e": "text {{creds.token}}"}
    assert resolve_references(config, viewer, tenant) == config


# --- the S3 artifact-store reader ---------------------------------------------------------
@pytest.fixture(scope="module")
def moto_url():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def visualization(api, project, moto_url):
    """An artifact version in an S3 store whose credentials are references to `aws-creds`."""
    create_secret(api, "aws-creds", {"key_id": "AKIAREFERENCED", "secret": marker("aws")})
    bucket = s3_bucket(moto_url, ("vis.html", b"<p>report</p>"))
    configuration = {
        "path": f"s3://{bucket}",
        "key": "{{aws-creds.key_id}}",
        "secret": "{{aws-creds.secret}}",
        "client_kwargs": {"endpoint_url": moto_url, "region_name": "us-east-1"},
    }
    store = api.post(
        "/api/v1/components",
        {"name": "s3", "type": "artifact_store", "flavor": "s3", "configuration": configuration},
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
            "uri": f"s3://{bucket}/data",
            "materializer": {"module": "m", "attribute": "M", "type": "internal"},
            "data_type": {"module": "builtins", "attribute": "str", "type": "builtin"},
            "save_type": "step_output",
            "visualizations": [{"type": "html", "uri": f"s3://{bucket}/vis.html"}],
        },
        format="json",
    )
    assert version.status_code == 200, version.content
    return f"/api/v1/artifact_versions/{version.json()['id']}/visualize"


def test_visualizations_of_a_store_with_references_need_read_secret_value(tenant, api, dev, viewer, visualization):
    assert api.get(visualization).json() == {"type": "html", "value": "<p>report</p>"}
    assert bearer_client(dev, tenant).get(visualization).status_code == 200
    refused = bearer_client(viewer, tenant).get(visualization)
    assert refused.status_code == 403
    assert "`aws-creds`" in refused.json()["detail"][1]
    component = api.get("/api/v1/components?name=s3").json()["items"][0]
    detail = api.get(f"/api/v1/components/{component['id']}").json()
    assert detail["metadata"]["configuration"]["secret"] == "{{aws-creds.secret}}"  # never resolved in the API
