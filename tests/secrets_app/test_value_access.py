"""Who reads a secret's values: `read_secret_value` on it (tenant admins and developers, and its
creator). Others get the secret as ZenML answers them (its metadata, `values: {}`), so
`zenml secret get` still works; every read of values is an audit event."""

import pytest

from tenants.models import AuditEvent
from tests.api_helpers import bearer_client
from tests.conftest import make_user
from tests.secrets_app.helpers import create_secret, marker

VALUES = {"password": marker("access")}


@pytest.fixture
def shared(api):
    return create_secret(api, "shared", VALUES)


def get(user, tenant, secret) -> dict:
    response = bearer_client(user, tenant).get(f"/api/v1/secrets/{secret['id']}")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("role", ["tenant-admin", "tenant-developer"])
def test_admins_and_developers_read_values(tenant, shared, role):
    reader = make_user("reader", tenant, role=role)
    assert get(reader, tenant, shared)["body"]["values"] == VALUES
    event = AuditEvent.objects.get(action="read_secret_value", actor=reader)
    assert event.resource_id == shared["id"] and VALUES["password"] not in repr(event.__dict__)


def test_a_viewer_gets_the_secret_without_values(tenant, shared):
    viewer = make_user("viewer", tenant, role="tenant-viewer")
    fetched = get(viewer, tenant, shared)
    assert fetched["name"] == "shared" and fetched["body"]["values"] == {}
    assert VALUES["password"] not in str(fetched)
    assert not AuditEvent.objects.filter(action="read_secret_value", actor=viewer).exists()
    listed = bearer_client(viewer, tenant).get("/api/v1/secrets").json()["items"]
    assert [item["name"] for item in listed] == ["shared"]


def test_a_contributor_reads_only_the_values_of_their_own_secrets(tenant, shared):
    contributor = make_user("contrib", tenant, role="tenant-contributor")
    own = create_secret(bearer_client(contributor, tenant), "mine", {"token": "t"})
    assert get(contributor, tenant, own)["body"]["values"] == {"token": "t"}
    assert bearer_client(contributor, tenant).get(f"/api/v1/secrets/{shared['id']}").status_code == 404


def test_a_shared_read_secret_value_grant_opens_one_secret(tenant, shared, api):
    from tenants import access

    viewer = make_user("viewer", tenant, role="tenant-viewer")
    other = create_secret(api, "other", {"k": "v"})
    access.assign_role("tenant-developer", user=viewer, tenant=tenant, resource_type="secret", resource_id=shared["id"])
    assert get(viewer, tenant, shared)["body"]["values"] == VALUES
    assert get(viewer, tenant, other)["body"]["values"] == {}
