"""Refusals are audited even when they roll back the transaction they happen in: the API's
create (checked inside its transaction) and the admin's save (the admin wraps each save in one)."""

from mlmeta.models import Tag
from tenants import access
from tenants.models import AuditEvent
from tests.admin_utils import form_data
from tests.api_helpers import bearer_client
from tests.conftest import make_user


def test_refused_api_create_is_audited_and_writes_nothing(tenant):
    viewer = make_user("bob", tenant, role="tenant-viewer")
    api = bearer_client(viewer, tenant)
    response = api.post("/api/v1/pipelines", {"name": "p", "project": "default"}, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["detail"][0] == "IllegalOperationError"
    event = AuditEvent.objects.get(action="permission_denied", actor=viewer)
    assert event.resource_type == "pipeline" and event.tenant_id == tenant.pk
    assert "POST" in event.detail


def test_refused_admin_add_is_audited_and_writes_nothing(client, tenant, other):
    """A developer of `tenant` may create tags there, not in `other` (which they can see through
    a viewer role): the admin refuses the row and the refusal is kept."""
    dev = make_user("dev", tenant)
    access.add_member(other, dev, "tenant-viewer")
    client.force_login(dev)
    data = form_data(client.get("/admin/mlmeta/tag/add/"))
    response = client.post("/admin/mlmeta/tag/add/", {**data, "tenant": str(other.pk), "name": "sneaky"})
    assert response.status_code == 403, response.content.decode()[-3000:]
    assert not Tag.objects.filter(name="sneaky").exists()
    assert AuditEvent.objects.filter(action="permission_denied", actor=dev).exists()
