"""The privilege-escalation rules of tenants.access and the rbac helpers they use."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tenants import access, rbac
from tenants.models import AuditEvent, RoleAssignment, User
from tests.conftest import make_user


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


@pytest.fixture
def org_admin(org):
    user = User.objects.create_user("olga", password="x")
    access.assign_role("org-admin", user=user, organization=org)
    return user


def denied(detail_part: str) -> bool:
    return AuditEvent.objects.filter(action="permission_denied", detail__icontains=detail_part).exists()


def test_held_permissions_adds_narrower_scopes(alice, tenant_a, org):
    assert "stack:delete" in rbac.held_permissions(alice, organization=org, tenant=tenant_a)
    assert "stack:delete" not in rbac.held_permissions(alice, organization=org)


def test_is_org_admin_only_for_org_admins_and_operators(alice, org, org_admin):
    operator = User.objects.create_superuser("root", password="x")
    assert rbac.is_org_admin(org_admin, org)
    assert rbac.is_org_admin(operator, org)
    assert not rbac.is_org_admin(alice, org)


def test_grant_refuses_self_assignment(alice, tenant_a):
    with pytest.raises(access.Refused, match="yourself"):
        access.grant("tenant-viewer", by=alice, user=alice, tenant=tenant_a)
    assert denied("yourself")


def test_developer_cannot_grant_tenant_admin(tenant_a):
    dev = make_user("dev", tenant_a, role="tenant-developer")
    other = make_user("otto", tenant_a, role="tenant-viewer")
    with pytest.raises(access.Refused, match="member"):
        access.grant("tenant-admin", by=dev, user=other, tenant=tenant_a)
    assert not RoleAssignment.objects.filter(user=other, role__slug="tenant-admin").exists()


def test_tenant_admin_cannot_grant_org_roles(alice, tenant_a):
    other = make_user("otto", tenant_a, role="tenant-viewer")
    with pytest.raises(access.Refused):
        access.grant("org-viewer", by=alice, user=other, organization=tenant_a.organization)


def test_tenant_admin_grants_and_revokes_with_audit(alice, tenant_a):
    other = make_user("otto", tenant_a, role="tenant-viewer")
    assignment, created = access.grant("stack-admin", by=alice, user=other, tenant=tenant_a)
    assert created
    event = AuditEvent.objects.get(action="role_assigned", actor=alice)
    assert event.changes["role"] == "stack-admin" and event.changes["subject"] == "otto"
    assert event.changes["scope"] == "tenant"
    access.revoke_assignment(assignment, by=alice)
    assert AuditEvent.objects.filter(action="role_revoked", actor=alice, changes__role="stack-admin").exists()


def test_org_admin_may_assign_to_themselves(org_admin, tenant_a):
    _, created = access.grant("tenant-admin", by=org_admin, user=org_admin, tenant=tenant_a)
    assert created


def test_builtin_role_cannot_be_edited(org_admin):
    role = access.find_role("tenant-viewer")
    with pytest.raises(access.Refused, match="Predefined"):
        access.update_role(role, by=org_admin, permissions=["stack:delete"])
    assert denied("Predefined")


def test_custom_role_cannot_gain_permissions_the_editor_lacks(org):
    manager = User.objects.create_user("mona", password="x")
    access.assign_role("org-manager", user=manager, organization=org)
    role = access.create_role(org, name="Team lead", base="org-viewer", by=manager)
    with pytest.raises(access.Refused, match="stack:delete"):
        access.update_role(role, by=manager, permissions=[*role.permissions, "stack:delete"])
    role.refresh_from_db()
    assert "stack:delete" not in role.permissions


def test_adding_oneself_to_a_privileged_team_is_refused(org_admin, tenant_a, org):
    team = access.create_team(org, "ops")
    access.assign_role("tenant-admin", team=team, tenant=tenant_a)
    viewer = make_user("vic", tenant_a, role="tenant-viewer")
    with pytest.raises(access.Refused):
        access.add_team_member(team, viewer, by=viewer)
    access.add_team_member(team, viewer, by=org_admin)
    assert team.members.filter(pk=viewer.pk).exists()


def test_invitation_hands_roles_and_teams_over(alice, tenant_a, org):
    team = access.create_team(org, "ml")
    invitation, token = access.invite(org, "new@example.com", roles=[{"role": "tenant-viewer", "tenant": tenant_a}])
    invitation.teams.add(team)
    newbie = User.objects.create_user("newbie", password="x")
    access.accept_invitation(token, newbie)
    assert rbac.may_use_tenant(newbie, tenant_a)
    assert team.members.filter(pk=newbie.pk).exists()
    with pytest.raises(ValidationError):
        access.accept_invitation(token, newbie)


def test_api_key_may_not_create_keys_for_another_account(org):
    bot = access.create_service_account(org, "bot")
    other = access.create_service_account(org, "other-bot")
    with pytest.raises(access.Refused, match="another account"):
        access.issue_api_key(other, "stolen", by=bot)
    assert denied("another account")
    key, plaintext = access.issue_api_key(bot, "own", by=bot, expires=timezone.now() + timedelta(days=1))
    assert plaintext.startswith("ZENKEY_") and key.usable


def test_api_v1_is_admin_goes_through_the_escalation_rules(tenant_a):
    """PUT /users/{id} {"is_admin": true} by someone who cannot grant tenant-admin: 403 + audit."""
    from tests.api_helpers import bearer_client

    org = tenant_a.organization
    perms = ["user:update", "tenant:update", "member:create", "member:update", "member:delete"]
    role = access.create_role(org, name="User manager", base="tenant-viewer", add=perms)
    manager = make_user("manny", tenant_a, role=role)
    target = make_user("tina", tenant_a, role="tenant-viewer")
    response = bearer_client(manager, tenant_a).put(f"/api/v1/users/{target.pk}", {"is_admin": True}, format="json")
    assert response.status_code == 403
    assert denied("grants permissions you do not hold")
    assert not RoleAssignment.objects.filter(user=target, role__slug="tenant-admin").exists()


def test_api_v1_is_admin_by_tenant_admin_is_audited(alice, tenant_a):
    from tests.api_helpers import bearer_client

    target = make_user("tina", tenant_a, role="tenant-viewer")
    response = bearer_client(alice, tenant_a).put(f"/api/v1/users/{target.pk}", {"is_admin": True}, format="json")
    assert response.status_code == 200, response.content
    assert AuditEvent.objects.filter(action="role_assigned", actor=alice, changes__role="tenant-admin").exists()
    assert AuditEvent.objects.filter(action="role_revoked", actor=alice, changes__role="tenant-viewer").exists()
