"""What authenticating an /api/v1 request costs, and that nothing of it outlives the request: a
removed role, a deactivated user, key, device or tenant is refused on the very next request."""

import uuid
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIClient

from tenants import access, rbac, tokens
from tenants.authentication import JWTAuthentication
from tenants.choices import OAuthDeviceStatus
from tenants.models import APIKey, OAuthDevice, RoleAssignment, Team
from tenants.permissions import IsTenantMember
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def authenticated_member(token, tenant) -> bool:
    """JWTAuthentication + IsTenantMember on a fresh request, as every /api/v1 view runs them."""
    django_request = RequestFactory().get("/api/v1/current-user", HTTP_AUTHORIZATION=f"Bearer {token}")
    django_request.tenant = tenant
    request = Request(django_request, authenticators=[JWTAuthentication()])
    return IsTenantMember().has_permission(request, None)


def client_of(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def robot(tenant_a):
    robot = access.create_service_account(tenant_a.organization, "robot")
    access.assign_role("tenant-developer", user=robot, tenant=tenant_a)
    return robot


@pytest.fixture
def key_token(robot, tenant_a):
    key, _ = access.issue_api_key(robot, "ci")
    return tokens.issue(robot, tenant_a, api_key_id=key.pk, key_gen=key.generation)


def test_user_token_takes_one_query(alice, tenant_a, django_assert_num_queries):
    token = tokens.issue(alice, tenant_a)
    with django_assert_num_queries(1):
        assert authenticated_member(token, tenant_a)


def test_api_key_token_takes_one_query(key_token, tenant_a, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert authenticated_member(key_token, tenant_a)


def test_device_token_takes_one_query(alice, tenant_a, django_assert_num_queries):
    device = OAuthDevice.objects.create(
        tenant=tenant_a,
        user=alice,
        client_id=uuid.uuid4(),
        status=OAuthDeviceStatus.ACTIVE,
        expires=timezone.now() + timedelta(hours=1),
    )
    token = tokens.issue(alice, tenant_a, device_id=device.pk)
    with django_assert_num_queries(1):
        assert authenticated_member(token, tenant_a)
    OAuthDevice.objects.filter(pk=device.pk).update(status=OAuthDeviceStatus.LOCKED)
    assert client_of(token).get("/api/v1/current-user").status_code == 401


def test_team_and_organization_roles_come_with_the_same_query(tenant_a, tenant_b, django_assert_num_queries):
    member, admin = make_user("member"), make_user("olga")
    team = Team.objects.create(organization=tenant_a.organization, name="ml")
    team.members.add(member)
    access.assign_role("tenant-developer", team=team, tenant=tenant_a)
    access.assign_role("org-admin", user=admin, organization=tenant_a.organization)
    with django_assert_num_queries(1):
        assert authenticated_member(tokens.issue(member, tenant_a), tenant_a)
    assert not authenticated_member(tokens.issue(member, tenant_b), tenant_b)
    with django_assert_num_queries(1):
        assert authenticated_member(tokens.issue(admin, tenant_b), tenant_b)
    grants = rbac.grants(admin)  # the same rows, through grants() alone
    assert {tenant_a.pk, tenant_b.pk} <= grants.usable_tenants
    assert grants.tenant_org[tenant_b.pk] == tenant_a.organization_id


def test_removed_role_is_refused_on_the_next_request(tenant_a):
    bob = make_user("bob", tenant_a)
    client = client_of(tokens.issue(bob, tenant_a))
    assert client.get("/api/v1/current-user").status_code == 200
    RoleAssignment.objects.filter(user=bob).delete()
    assert client.get("/api/v1/current-user").status_code == 403
    access.assign_role("tenant-viewer", user=bob, tenant=tenant_a)
    assert client.get("/api/v1/current-user").status_code == 200


def test_deactivated_user_is_refused_on_the_next_request(alice, tenant_a):
    client = client_of(tokens.issue(alice, tenant_a))
    assert client.get("/api/v1/current-user").status_code == 200
    type(alice).objects.filter(pk=alice.pk).update(is_active=False)
    assert client.get("/api/v1/current-user").status_code == 401


@pytest.mark.parametrize(
    "change", [{"active": False}, {"generation": 2}, {"expires": timezone.now() - timedelta(seconds=1)}]
)
def test_revoked_key_is_refused_on_the_next_request(key_token, robot, change):
    client = client_of(key_token)
    assert client.get("/api/v1/current-user").status_code == 200
    APIKey.objects.filter(service_account=robot).update(**change)
    response = client.get("/api/v1/current-user")
    assert response.status_code == 401
    assert "API key" in response.content.decode()


def test_deactivated_tenant_is_refused_on_the_next_request(alice, tenant_a, tenant_b):
    access.assign_role("tenant-developer", user=alice, tenant=tenant_b)
    client = client_of(tokens.issue(alice, tenant_b))
    assert client.get("/t/beta/api/v1/current-user").status_code == 200
    type(tenant_b).objects.filter(pk=tenant_b.pk).update(active=False)
    assert client.get("/t/beta/api/v1/current-user").status_code == 404
    assert not authenticated_member(tokens.issue(alice, tenant_b), tenant_b)
