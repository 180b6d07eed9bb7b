"""Users of a tenant through the ZenML API: admins add, change and remove them; everyone changes
their own profile and password; account-wide changes stay inside the tenant's own users."""

import pytest
from rest_framework.test import APIClient

from tenants import access, rbac
from tenants.models import Membership, User
from tests.api_helpers import bearer_client
from tests.conftest import PASSWORD, make_user

NEW_PASSWORD = "another-horse-battery"


@pytest.fixture
def alice(tenant):
    return make_user("alice", tenant, is_admin=True)


@pytest.fixture
def bob(tenant):
    return make_user("bob", tenant)


@pytest.fixture
def charlie(other):
    return make_user("charlie", other, is_admin=True)


@pytest.fixture
def admin_api(alice, tenant):
    return bearer_client(alice, tenant)


@pytest.fixture
def bob_api(bob, tenant):
    return bearer_client(bob, tenant)


def login(username, password, prefix=""):
    return APIClient().post(f"{prefix}/api/v1/login", {"username": username, "password": password})


# --- list and read -------------------------------------------------------------------------------
def test_list_users_reports_tenant_admins(admin_api, alice, bob, charlie, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        page = admin_api.get("/api/v1/users?sort_by=name").json()
    assert [(u["name"], u["body"]["is_admin"]) for u in page["items"]] == [("alice", True), ("bob", False)]


def test_admin_of_one_tenant_is_no_admin_of_another(alice, other):
    access.add_member(other, alice)
    me = bearer_client(alice, other).get("/t/other/api/v1/current-user").json()
    assert me["body"]["is_admin"] is False


# --- create --------------------------------------------------------------------------------------
def test_admin_creates_a_member_who_can_log_in(admin_api, tenant, alice):
    body = {"name": "dora", "password": PASSWORD, "is_admin": False, "full_name": "Dora", "email": "d@example.com"}
    response = admin_api.post("/api/v1/users", body, format="json")
    assert response.status_code == 200
    data = response.json()
    assert data["name"] == "dora" and data["body"]["full_name"] == "Dora"
    assert data["body"]["active"] is True and data["body"]["is_admin"] is False
    assert data["metadata"]["email"] == "d@example.com"
    membership = Membership.objects.get(tenant=tenant, member__username="dora")
    assert membership.user == alice and membership.member_id not in rbac.tenant_admin_ids(tenant)
    assert login("dora", PASSWORD).status_code == 200


def test_admin_creates_another_admin(admin_api, tenant):
    body = {"name": "erin", "password": PASSWORD, "is_admin": True}
    assert admin_api.post("/api/v1/users", body, format="json").json()["body"]["is_admin"] is True
    erin = User.objects.get(username="erin")
    assert erin.pk in rbac.tenant_admin_ids(tenant)
    assert not erin.is_superuser


def test_user_created_without_password_is_inactive(admin_api):
    data = admin_api.post("/api/v1/users", {"name": "frank", "is_admin": False}, format="json").json()
    assert data["body"]["active"] is False
    assert not User.objects.get(username="frank").has_usable_password()


def test_member_cannot_create_users(bob_api):
    response = bob_api.post("/api/v1/users", {"name": "mallory", "password": PASSWORD, "is_admin": True}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"][0] == "IllegalOperationError"
    assert not User.objects.filter(username="mallory").exists()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "charlie", "password": PASSWORD, "is_admin": False}, 409),
        ({"name": "gina", "password": "123", "is_admin": False}, 422),
        ({"name": "gina", "password": PASSWORD}, 422),
        ({"name": "bad name!", "is_admin": False}, 422),
        ({"name": "gina", "is_admin": False, "external_user_id": "nope"}, 422),
    ],
)
def test_invalid_user_creation_writes_nothing(admin_api, charlie, body, status):
    before = (User.objects.count(), Membership.objects.count())
    response = admin_api.post("/api/v1/users", body, format="json")
    assert response.status_code == status
    assert (User.objects.count(), Membership.objects.count()) == before


# --- update --------------------------------------------------------------------------------------
def test_admin_updates_a_member(admin_api, tenant, bob):
    body = {"full_name": "Robert", "is_admin": True}
    data = admin_api.put(f"/api/v1/users/{bob.pk}", body, format="json").json()
    assert data["body"]["full_name"] == "Robert" and data["body"]["is_admin"] is True
    assert bob.pk in rbac.tenant_admin_ids(tenant)
    demoted = admin_api.put("/api/v1/users/bob", {"is_admin": False}, format="json").json()
    assert demoted["body"]["is_admin"] is False


def test_admin_cannot_set_another_users_password(admin_api, bob):
    response = admin_api.put(f"/api/v1/users/{bob.pk}", {"password": NEW_PASSWORD}, format="json")
    assert response.status_code == 403
    bob.refresh_from_db()
    assert bob.check_password(PASSWORD)


def test_member_cannot_update_other_users(bob_api, alice):
    response = bob_api.put(f"/api/v1/users/{alice.pk}", {"full_name": "Hacked"}, format="json")
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.full_name == ""


def test_member_cannot_make_themselves_admin(bob_api, tenant, bob):
    response = bob_api.put(f"/api/v1/users/{bob.pk}", {"is_admin": True}, format="json")
    assert response.status_code == 403
    assert bob.pk not in rbac.tenant_admin_ids(tenant)


def test_member_updates_own_profile(bob_api, bob):
    data = bob_api.put("/api/v1/users/bob", {"full_name": "Bob B", "is_admin": False}, format="json").json()
    assert data["body"]["full_name"] == "Bob B"


def test_tenant_admin_cannot_change_accounts_shared_with_other_tenants(admin_api, tenant, charlie):
    access.add_member(tenant, charlie)
    response = admin_api.put(f"/api/v1/users/{charlie.pk}", {"email": "mine@example.com"}, format="json")
    assert response.status_code == 403
    response = admin_api.put(f"/api/v1/users/{charlie.pk}", {"active": False}, format="json")
    assert response.status_code == 403
    charlie.refresh_from_db()
    assert charlie.email == "" and charlie.is_active
    # Who administers this tenant is the tenant's own business.
    assert admin_api.put(f"/api/v1/users/{charlie.pk}", {"is_admin": True}, format="json").status_code == 200
    assert charlie.pk in rbac.tenant_admin_ids(tenant)


def test_renaming_to_a_taken_name_is_a_conflict(admin_api, bob, charlie):
    response = admin_api.put(f"/api/v1/users/{bob.pk}", {"name": "charlie"}, format="json")
    assert response.status_code == 409
    bob.refresh_from_db()
    assert bob.username == "bob"


def test_users_of_other_tenants_are_not_found(admin_api, charlie):
    assert admin_api.get(f"/api/v1/users/{charlie.pk}").status_code == 404
    assert admin_api.put(f"/api/v1/users/{charlie.pk}", {"full_name": "x"}, format="json").status_code == 404
    assert admin_api.delete(f"/api/v1/users/{charlie.pk}").status_code == 404
    assert User.objects.filter(pk=charlie.pk).exists()


# --- current user --------------------------------------------------------------------------------
def test_change_own_password_needs_the_old_one(bob_api, bob):
    response = bob_api.put("/api/v1/current-user", {"password": NEW_PASSWORD}, format="json")
    assert response.status_code == 403
    assert "current password must be supplied" in response.json()["detail"][1]
    body = {"password": NEW_PASSWORD, "old_password": "wrong"}
    response = bob_api.put("/api/v1/current-user", body, format="json")
    assert response.status_code == 403
    assert response.json()["detail"][1] == "The current password is incorrect."
    body = {"password": NEW_PASSWORD, "old_password": PASSWORD}
    data = bob_api.put("/api/v1/current-user", body, format="json").json()
    assert data["metadata"]["password_changed_at"] is not None
    assert login("bob", NEW_PASSWORD).status_code == 200
    assert login("bob", PASSWORD).status_code == 401


def test_weak_new_password_is_refused(bob_api, bob):
    body = {"password": "123", "old_password": PASSWORD}
    assert bob_api.put("/api/v1/current-user", body, format="json").status_code == 422
    bob.refresh_from_db()
    assert bob.check_password(PASSWORD)


def test_current_user_update_keeps_admin_status_and_activity(bob_api, tenant, bob):
    body = {"full_name": "Bobby", "email": "bob@example.com", "is_admin": True, "active": False}
    data = bob_api.put("/api/v1/current-user", body, format="json").json()
    assert data["body"]["full_name"] == "Bobby" and data["metadata"]["email"] == "bob@example.com"
    assert data["body"]["is_admin"] is False and data["body"]["active"] is True
    assert bob.pk not in rbac.tenant_admin_ids(tenant)


def test_current_user_rename_to_a_taken_name_is_a_conflict(bob_api, alice):
    response = bob_api.put("/api/v1/current-user", {"name": "alice"}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"][0] == "EntityExistsError"


@pytest.mark.parametrize("body", [[], {"email": 5}, {"name": "x" * 300}, {"avatar_url": "not a url"}])
def test_invalid_current_user_update_is_422(bob_api, bob, body):
    assert bob_api.put("/api/v1/current-user", body, format="json").status_code == 422
    bob.refresh_from_db()
    assert (bob.username, bob.email, bob.avatar_url) == ("bob", "", None)


# --- deactivate, opt-in, delete ------------------------------------------------------------------
def test_admin_deactivates_a_member(admin_api, bob, bob_api):
    data = admin_api.put(f"/api/v1/users/{bob.pk}/deactivate").json()
    assert data["body"]["active"] is False
    assert bob_api.get("/api/v1/current-user").status_code == 401
    assert admin_api.put(f"/api/v1/users/{bob.pk}", {"active": True}, format="json").json()["body"]["active"]


def test_nobody_deactivates_themselves(admin_api, alice, bob_api, bob):
    assert admin_api.put(f"/api/v1/users/{alice.pk}/deactivate").status_code == 403
    assert bob_api.put(f"/api/v1/users/{bob.pk}/deactivate").status_code == 403
    assert admin_api.put(f"/api/v1/users/{alice.pk}", {"active": False}, format="json").status_code == 403
    alice.refresh_from_db()
    assert alice.is_active


def test_email_opt_in_is_for_oneself(bob_api, alice, bob):
    body = {"email": "bob@example.com", "email_opted_in": True}
    data = bob_api.put(f"/api/v1/users/{bob.pk}/email-opt-in", body, format="json").json()
    assert data["body"]["email_opted_in"] is True and data["metadata"]["email"] == "bob@example.com"
    response = bob_api.put(f"/api/v1/users/{alice.pk}/email-opt-in", {"email_opted_in": True}, format="json")
    assert response.status_code == 403


def test_admin_deletes_a_member(admin_api, tenant, bob):
    response = admin_api.delete(f"/api/v1/users/{bob.pk}")
    assert response.status_code == 200 and response.json() is None
    assert not User.objects.filter(pk=bob.pk).exists()


def test_deleting_a_user_of_several_tenants_only_removes_the_membership(admin_api, tenant, charlie):
    access.add_member(tenant, charlie)
    assert admin_api.delete("/api/v1/users/charlie").status_code == 200
    assert User.objects.filter(pk=charlie.pk).exists()
    assert not Membership.objects.filter(tenant=tenant, member=charlie).exists()
    assert Membership.objects.filter(member=charlie).count() == 1


def test_delete_refusals(admin_api, bob_api, tenant, alice, bob):
    operator = make_user("root", tenant, is_superuser=True)
    assert admin_api.delete(f"/api/v1/users/{alice.pk}").status_code == 403
    assert admin_api.delete(f"/api/v1/users/{operator.pk}").status_code == 403
    assert bob_api.delete(f"/api/v1/users/{alice.pk}").status_code == 403
    assert User.objects.filter(pk__in=[alice.pk, bob.pk, operator.pk]).count() == 3


def test_service_accounts_are_not_users(admin_api, tenant):
    robot = make_user("robot", tenant, is_service_account=True)
    assert admin_api.get(f"/api/v1/users/{robot.pk}").status_code == 404
    assert admin_api.delete(f"/api/v1/users/{robot.pk}").status_code == 404
    assert User.objects.filter(pk=robot.pk).exists()
