"""The admin base: every MLMeta admin renders for members, stays inside their tenants and
turns invalid input into form errors."""

import pytest
from django.contrib import admin
from django.urls import reverse

from mlmeta.models import Pipeline
from mlmeta.models.automation import TriggerDispatch
from secrets_app.models import SecretBackendConfig
from tenants import access
from tenants.models import AuditEvent, Membership, Organization, OrganizationSSO, Project, Role, Team, Tenant, User
from tests.admin_utils import admin_url, form_data, form_errors, mlmeta_admins
from tests.factories import make_account, populate

# Members may not create tenants or organizations, nor point the server at a secrets backend.
OPERATOR_ONLY_ADD = {Organization, Tenant, SecretBackendConfig}
# Teams, custom roles and single sign-on are organization resources: a tenant admin creates none.
ORGANIZATION_ADD = {Team, Role, OrganizationSSO}
# Written by the application only: the audit trail, and the record of each trigger dispatch.
NOBODY_ADDS = {AuditEvent, TriggerDispatch}
OPERATOR_ONLY_DELETE = {Organization, Tenant, User}  # members leave by deleting their membership
MEMBER_VIEW_ONLY = {Organization}


@pytest.fixture
def world_a(tenant_a, alice):
    return populate(tenant_a, alice)


@pytest.fixture
def world_b(tenant_b, charlie):
    return populate(tenant_b, charlie)


@pytest.fixture
def alice_admin(alice_client, world_a):
    return alice_client


@pytest.fixture
def charlie_admin(charlie_client, world_a, world_b):
    return charlie_client


def test_admin_pages_render_for_member(alice_admin, world_a):
    for model, _ in mlmeta_admins():
        assert alice_admin.get(admin_url(model, "changelist")).status_code == 200, model
        expected_add = 403 if model in OPERATOR_ONLY_ADD | ORGANIZATION_ADD | NOBODY_ADDS else 200
        assert alice_admin.get(admin_url(model, "add")).status_code == expected_add, model
        if model in world_a.rows:
            response = alice_admin.get(admin_url(model, "change", world_a[model].pk))
            assert response.status_code == 200, model
            assert str(world_a[model].pk) in response.content.decode(), model
            expected_delete = 403 if model in OPERATOR_ONLY_DELETE else 200
            assert alice_admin.get(admin_url(model, "delete", world_a[model].pk)).status_code == expected_delete


def test_admin_pages_render_for_operator(client, world_a):
    client.force_login(make_account("root", is_superuser=True, is_staff=True))
    for model in admin.site._registry:  # third-party admins too (Celery beat, OAuth2 provider)
        assert client.get(admin_url(model, "changelist")).status_code == 200, model
    for model, _ in mlmeta_admins():
        assert client.get(admin_url(model, "add")).status_code == (403 if model in NOBODY_ADDS else 200), model
        if model in world_a.rows:
            assert client.get(admin_url(model, "change", world_a[model].pk)).status_code == 200, model


def test_save_unchanged_change_forms(alice_admin, world_a):
    for model, _ in mlmeta_admins():
        if model not in world_a.rows or model in MEMBER_VIEW_ONLY:
            continue
        url = admin_url(model, "change", world_a[model].pk)
        response = alice_admin.post(url, form_data(alice_admin.get(url)))
        assert response.status_code == 302, (model, form_errors(response))


def test_changelists_hide_other_tenants(charlie_admin, world_a, world_b):
    hidden = world_a.ids() - world_b.ids()  # both tenants share conftest's organization
    for model, _ in mlmeta_admins():
        response = charlie_admin.get(admin_url(model, "changelist"))
        assert response.status_code == 200, model
        content = response.content.decode()
        assert not [pk for pk in hidden if pk in content], model
        if model in world_b.rows:
            assert str(world_b[model].pk) in content, model


@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_object_pages_of_other_tenant_are_not_shown(charlie_admin, world_a, world_b, view):
    for model, _ in mlmeta_admins():
        if model not in world_a.rows or world_a[model] == world_b.rows.get(model):
            continue
        response = charlie_admin.get(admin_url(model, view, world_a[model].pk))
        # The admin's "doesn't exist" redirect, or a 403 where the view is for operators only.
        assert response.status_code in (302, 403), (model, view)
        if response.status_code == 302:
            assert response.url == reverse("admin:index"), (model, view)


def test_post_to_other_tenant_object_changes_nothing(charlie_admin, world_a):
    project = world_a[Project]
    response = charlie_admin.post(admin_url(Project, "change", project.pk), {"name": "stolen"})
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.name == "alpha-project"


def test_non_member_gets_no_admin_access(client, world_a):
    client.force_login(make_account("mallory"))
    assert client.get(reverse("admin:index")).status_code == 302
    for model, _ in mlmeta_admins():
        response = client.get(admin_url(model, "changelist"))
        assert response.status_code == 302, model
        assert response.url.startswith(reverse("admin:login")), model


def test_anonymous_user_is_sent_to_login(client, world_a):
    response = client.get(admin_url(Pipeline, "changelist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_member_logs_in_to_admin_without_staff_flag(client, alice):
    credentials = {"username": "alice", "password": "correct-horse-battery"}  # tests/conftest.py's PASSWORD
    response = client.post(reverse("admin:login"), credentials)
    assert response.status_code == 302
    index = client.get(reverse("admin:index")).content.decode()
    assert f'<a href="{reverse("home")}">Dashboard</a>' in index
    assert "mlmeta-admin.css" in index


def test_add_project_rejects_invalid_name(alice_admin, world_a):
    response = alice_admin.post(admin_url(Project, "add"), {"name": "Bad Name!", "tenant": world_a.tenant.pk})
    assert response.status_code == 200
    assert "Use lowercase letters" in response.content.decode()
    assert not Project.objects.filter(name="Bad Name!").exists()


def test_add_project_rejects_duplicate_name_in_tenant(alice_admin, world_a):
    response = alice_admin.post(admin_url(Project, "add"), {"name": "alpha-project", "tenant": world_a.tenant.pk})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Project.objects.filter(name="alpha-project").count() == 1


def test_add_project_refuses_other_tenant(charlie_admin, world_a):
    response = charlie_admin.post(admin_url(Project, "add"), {"name": "sneaky", "tenant": world_a.tenant.pk})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Project.objects.filter(name="sneaky").exists()


def test_add_form_offers_only_own_tenants(charlie_admin, world_a, world_b):
    content = charlie_admin.get(admin_url(Project, "add")).content.decode()
    assert str(world_b.tenant.pk) in content
    assert str(world_a.tenant.pk) not in content


def test_filters_and_search_render(alice_admin, world_a):
    url = admin_url(Project, "changelist")
    response = alice_admin.get(url, {"q": "alpha", "tenant__id__exact": world_a.tenant.pk})
    assert response.status_code == 200
    assert "alpha-project" in response.content.decode()
    assert alice_admin.get(url, {"q": str(world_a[Project].pk)}).context["cl"].result_count == 1


def test_autocomplete_hides_other_tenants(charlie_admin, world_a, world_b):
    params = {"app_label": "tenants", "model_name": "membership", "field_name": "member", "term": ""}
    response = charlie_admin.get(reverse("admin:autocomplete"), params)
    ids = {row["id"] for row in response.json()["results"]}
    assert ids == {str(world_b.member.pk)}


def test_member_cannot_grant_superuser(alice_admin, world_a):
    url = admin_url(User, "change", world_a.member.pk)
    data = {**form_data(alice_admin.get(url)), "is_superuser": "on", "is_staff": "on", "full_name": "Alice A."}
    assert alice_admin.post(url, data).status_code == 302
    world_a.member.refresh_from_db()
    assert world_a.member.full_name == "Alice A."
    assert not world_a.member.is_superuser
    assert not world_a.member.is_staff


def test_member_sees_other_members_read_only(alice_admin, world_a):
    bob = make_account("bob")
    access.add_member(world_a.tenant, bob)
    url = admin_url(User, "change", bob.pk)
    assert alice_admin.get(url).context["has_change_permission"] is False
    assert alice_admin.post(url, {"username": "robert"}).status_code == 403
    assert alice_admin.get(admin_url(User, "delete", bob.pk)).status_code == 403


def test_add_user_joins_chosen_tenant(alice_admin, world_a):
    data = {
        "username": "dave",
        "tenant": world_a.tenant.pk,
        "usable_password": "false",
        "_save": "Save",
    }
    response = alice_admin.post(admin_url(User, "add"), data)
    assert response.status_code == 302, form_errors(response)
    dave = User.objects.get(username="dave")
    assert Membership.objects.filter(tenant=world_a.tenant, member=dave).exists()


def test_member_edits_tenant_display_settings_only(alice_admin, world_a):
    url = admin_url(Tenant, "change", world_a.tenant.pk)
    data = {**form_data(alice_admin.get(url)), "name": "Acme Inc", "slug": "hijacked", "active": ""}
    assert alice_admin.post(url, data).status_code == 302
    world_a.tenant.refresh_from_db()
    assert (world_a.tenant.name, world_a.tenant.slug, world_a.tenant.active) == ("Acme Inc", "alpha", True)


def test_operator_adds_tenant_with_its_seeds(client, db):
    client.force_login(make_account("root", is_superuser=True, is_staff=True))
    organization = Organization.objects.create(slug="umbrella", name="Umbrella")
    data = {"organization": organization.pk, "slug": "gamma", "name": "Gamma", "_save": "Save"}
    response = client.post(admin_url(Tenant, "add"), data)
    assert response.status_code == 302, form_errors(response)
    tenant = Tenant.objects.get(slug="gamma")
    assert Project.objects.filter(tenant=tenant, name="default").exists()
    assert response.url == admin_url(Tenant, "changelist")
