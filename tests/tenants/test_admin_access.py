"""The access-control admin: changes go through tenants.access (checked and audited), builtin
roles and the audit trail are read-only, keys and invitation links are shown once."""

import pytest

from tenants import access
from tenants.models import APIKey, AuditEvent, Invitation, RoleAssignment, User
from tests.admin_utils import admin_url
from tests.conftest import make_user


@pytest.fixture
def olga_client(client, tenant_a):
    olga = User.objects.create_user("olga", password="x")
    access.assign_role("org-admin", user=olga, organization=tenant_a.organization)
    client.force_login(olga)
    client.user = olga
    return client


def test_builtin_role_is_read_only(alice_client):
    role = access.find_role("tenant-viewer")
    response = alice_client.post(admin_url(type(role), "change", role.pk), {"name": "mine", "permissions": []})
    assert response.status_code == 403
    assert alice_client.post(admin_url(type(role), "delete", role.pk), {"post": "yes"}).status_code == 403
    role.refresh_from_db()
    assert role.name == "Tenant Viewer"


def test_role_assignment_admin_grants_through_access(alice_client, alice, tenant_a):
    bob = make_user("bob", tenant_a, role="tenant-viewer")
    role = access.find_role("stack-admin")
    data = {"organization": tenant_a.organization_id, "role": role.pk, "user": bob.pk, "tenant": tenant_a.pk}
    response = alice_client.post(admin_url(RoleAssignment, "add"), data)
    assert response.status_code == 302
    assert RoleAssignment.objects.filter(user=bob, role=role).exists()
    assert AuditEvent.objects.filter(action="role_assigned", actor=alice, changes__role="stack-admin").exists()
    own = {**data, "user": alice.pk}
    assert alice_client.post(admin_url(RoleAssignment, "add"), own).status_code == 403
    assert not RoleAssignment.objects.filter(user=alice, role=role).exists()


def test_api_key_shown_once_after_creation(olga_client, tenant_a):
    bot = access.create_service_account(tenant_a.organization, "bot")
    data = {"service_account": bot.pk, "name": "ci", "active": "on"}
    response = olga_client.post(admin_url(APIKey, "add"), data, follow=True)
    assert "ZENKEY_" in response.content.decode()
    key = APIKey.objects.get()
    page = olga_client.get(admin_url(APIKey, "change", key.pk)).content.decode()
    assert key.key_hash not in page and "ZENKEY_" not in page


def test_invitation_link_shown_once_and_never_stored_readable(olga_client, tenant_a):
    data = {"organization": tenant_a.organization_id, "email": "new@example.com"}
    response = olga_client.post(admin_url(Invitation, "add"), data, follow=True)
    assert "/invitations/" in response.content.decode()
    invitation = Invitation.objects.get()
    page = olga_client.get(admin_url(Invitation, "change", invitation.pk)).content.decode()
    assert invitation.token_hash not in page


def test_audit_events_are_read_only_and_filterable(olga_client, tenant_a):
    access.create_team(tenant_a.organization, "ml", by=olga_client.user)
    event = AuditEvent.objects.get(resource_type="team")
    listed = olga_client.get(admin_url(AuditEvent, "changelist"), {"action": "create", "q": "olga"})
    assert listed.status_code == 200 and str(event.pk) in listed.content.decode()
    assert olga_client.post(admin_url(AuditEvent, "delete", event.pk), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
