"""The management pages (members, teams, roles, service accounts, settings): each renders for an
admin in a bounded number of queries; a viewer is refused every POST (403) and sees no action
button; other tenants' and organizations' objects are 404; privilege escalation is refused
(403, form error, audited); bad input is a form error; names are escaped."""

import pytest
from django.test import Client

from tenants import access
from tenants.models import AuditEvent, Invitation, Organization, Project, Role, RoleAssignment, Team, User
from tests.conftest import make_user

XSS = "<script>alert(1)</script>"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def denied(actor, part: str = "") -> bool:
    return AuditEvent.objects.filter(action="permission_denied", actor=actor, detail__icontains=part).exists()


def role(slug: str) -> Role:
    return access.find_role(slug)


def post_forms(html: str) -> int:
    """How many POST forms a page has, less the top bar's logout."""
    return html.count('method="post"') - 1


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


@pytest.fixture
def olga(org):
    """Organization admin."""
    user = User.objects.create_user("olga", password="x")
    access.assign_role("org-admin", user=user, organization=org)
    return user


@pytest.fixture
def bob(tenant_a):
    """Tenant viewer of A."""
    return make_user("bob", tenant_a, role="tenant-viewer", email="bob@example.com")


@pytest.fixture
def vera(org, tenant_a):
    """Reads everything: tenant viewer of A and organization viewer (members, teams, roles)."""
    user = make_user("vera", tenant_a, role="tenant-viewer")
    access.assign_role("org-viewer", user=user, organization=org)
    return user


@pytest.fixture
def robot(org, tenant_a):
    """A service account of the organization, developer in tenant A."""
    account = access.create_service_account(org, "ci-bot", description="CI")
    access.assign_role("tenant-developer", user=account, tenant=tenant_a)
    return account


@pytest.fixture
def team(org, bob):
    team = access.create_team(org, "ml-team", members=[bob])
    access.assign_role("tenant-viewer", team=team, tenant=org.tenants.get(slug="alpha"))
    return team


@pytest.fixture
def custom_role(org):
    return access.create_role(org, name="Run reader", level="tenant", add=["pipeline_run:read"])


# --- rendering -----------------------------------------------------------------------------------
def test_pages_render_for_tenant_admin_in_bounded_queries(
    alice_client, bob, robot, team, custom_role, django_assert_max_num_queries
):
    for n in range(5):
        make_user(f"member{n}", bob.memberships.first().tenant, role="tenant-viewer")
    access.issue_api_key(robot, "deploy")
    pages = [
        "/members/",
        f"/members/{bob.pk}/",
        "/teams/",
        "/roles/",
        f"/roles/{role('tenant-admin').pk}/",
        f"/roles/{custom_role.pk}/",
        "/service-accounts/",
        f"/service-accounts/{robot.pk}/",
        "/settings/",
    ]
    for url in pages:
        with django_assert_max_num_queries(16):
            response = alice_client.get(url)
        assert response.status_code == 200, url


def test_team_and_role_pages_render_for_org_admin_in_bounded_queries(
    olga, team, robot, custom_role, django_assert_max_num_queries
):
    client = logged_in(olga)
    access.add_team_member(team, robot)
    for url in ("/teams/", f"/teams/{team.pk}/", "/roles/new", f"/roles/{custom_role.pk}/", "/service-accounts/"):
        with django_assert_max_num_queries(18):
            response = client.get(url)
        assert response.status_code == 200, url
    html = client.get(f"/teams/{team.pk}/").content.decode()
    assert "bob" in html and "ci-bot" in html and "Tenant Viewer" in html
    assert post_forms(html) >= 6  # delete, rename, 2 member removals, add member, revoke, assign


# --- a viewer -----------------------------------------------------------------------------------
@pytest.mark.parametrize("viewer", ["bob", "vera"])
def test_viewer_is_refused_every_post(viewer, request, bob, alice, robot, team, custom_role, tenant_a):
    key, _ = access.issue_api_key(robot, "deploy")
    assignment = RoleAssignment.objects.get(user=alice, tenant=tenant_a)
    team_assignment = team.role_assignments.get()
    client = logged_in(request.getfixturevalue(viewer))
    posts = {
        "/members/": {"email": "x@example.com", "role": role("tenant-viewer").pk, "scope": "tenant", "days": 7},
        f"/members/{alice.pk}/": {"role": role("tenant-viewer").pk, "scope": "tenant"},
        f"/members/{alice.pk}/remove": {},
        f"/members/{alice.pk}/roles/{assignment.pk}/revoke": {},
        "/teams/": {"name": "new"},
        f"/teams/{team.pk}/": {"name": "renamed"},
        f"/teams/{team.pk}/delete": {},
        f"/teams/{team.pk}/members": {"user": alice.pk},
        f"/teams/{team.pk}/members/{bob.pk}/remove": {},
        f"/teams/{team.pk}/roles": {"role": role("tenant-viewer").pk, "scope": "tenant"},
        f"/teams/{team.pk}/roles/{team_assignment.pk}/revoke": {},
        "/roles/new": {"name": "x", "level": "tenant"},
        f"/roles/{custom_role.pk}/": {"name": "x", "permissions": ["pipeline_run:read"]},
        f"/roles/{custom_role.pk}/delete": {},
        "/service-accounts/": {"name": "robot2"},
        f"/service-accounts/{robot.pk}/": {"name": "k2"},
        f"/service-accounts/{robot.pk}/active": {"active": "0"},
        f"/service-accounts/{robot.pk}/keys/{key.pk}/rotate": {"retain_period_minutes": 0},
        f"/service-accounts/{robot.pk}/keys/{key.pk}/deactivate": {},
        f"/service-accounts/{robot.pk}/keys/{key.pk}/delete": {},
        "/settings/": {"name": "Hijacked"},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
    assert Team.objects.filter(name="ml-team").exists() and not Invitation.objects.exists()
    assert RoleAssignment.objects.filter(pk=assignment.pk).exists() and key.__class__.objects.filter(pk=key.pk).exists()
    assert Role.objects.get(pk=custom_role.pk).name == "Run reader"
    assert tenant_a.__class__.objects.get(pk=tenant_a.pk).name == "Alpha"


def test_viewer_sees_no_action_buttons(vera, alice, robot, team, custom_role):
    client = logged_in(vera)
    pages = ("/members/", f"/members/{alice.pk}/", "/teams/", f"/teams/{team.pk}/", "/roles/")
    pages += (f"/roles/{custom_role.pk}/",)
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert post_forms(html) == 0, url
        assert any(name in html for name in ("alice", "ml-team", "Run reader")), url
    for url in ("/service-accounts/", f"/service-accounts/{robot.pk}/"):
        html = client.get(url).content.decode()
        assert "ci-bot" in html and post_forms(html) == 0, url
    assert client.get("/settings/").status_code == 403


# --- isolation ----------------------------------------------------------------------------------
def test_other_tenants_and_organizations_objects_are_404(alice_client, olga, charlie, tenant_b):
    theirs = RoleAssignment.objects.get(user=charlie, tenant=tenant_b)
    account_b = access.create_service_account(tenant_b.organization, "beta-bot")
    access.assign_role("tenant-developer", user=account_b, tenant=tenant_b)
    assert alice_client.get(f"/members/{charlie.pk}/").status_code == 404
    assert alice_client.post(f"/members/{charlie.pk}/roles/{theirs.pk}/revoke").status_code == 404
    assert alice_client.post(f"/members/{charlie.pk}/remove").status_code == 404
    assert alice_client.get(f"/service-accounts/{account_b.pk}/").status_code == 404
    assert "beta-bot" not in alice_client.get("/service-accounts/").content.decode()
    assert RoleAssignment.objects.filter(pk=theirs.pk).exists()

    other = Organization.objects.create(slug="globex", name="Globex")
    their_team = access.create_team(other, "globex-team")
    their_role = access.create_role(other, name="Globex role", level="tenant", add=["tag:read"])
    client = logged_in(olga)
    assert client.get(f"/teams/{their_team.pk}/").status_code == 404
    assert client.post(f"/teams/{their_team.pk}/delete").status_code == 404
    assert client.get(f"/roles/{their_role.pk}/").status_code == 404
    assert client.post(f"/roles/{their_role.pk}/delete").status_code == 404
    assert "globex-team" not in client.get("/teams/").content.decode()
    assert "Globex role" not in client.get("/roles/").content.decode()
    assert Team.objects.filter(pk=their_team.pk).exists() and Role.objects.filter(pk=their_role.pk).exists()


# --- members ------------------------------------------------------------------------------------
def test_tenant_admin_cannot_give_org_admin(alice_client, alice, bob, org):
    data = {"role": role("org-admin").pk, "scope": "organization"}
    response = alice_client.post(f"/members/{bob.pk}/", data)
    assert response.status_code == 403
    assert "You may not manage the roles at this scope" in response.content.decode()
    assert not RoleAssignment.objects.filter(user=bob, organization=org, tenant=None).exists()
    assert denied(alice, "manage the roles")
    invite = {"email": "boss@example.com", "role": role("org-admin").pk, "scope": "organization", "days": 7}
    assert alice_client.post("/members/", invite).status_code == 403
    assert not Invitation.objects.exists()


def test_level_mismatch_is_a_form_error(alice_client, bob):
    response = alice_client.post(f"/members/{bob.pk}/", {"role": role("project-viewer").pk, "scope": "tenant"})
    assert response.status_code == 400
    assert "choose a project scope" in response.content.decode()


def test_change_a_members_roles_and_remove_them(alice_client, bob, tenant_a):
    project = Project.objects.get(tenant=tenant_a, name="default")
    data = {"role": role("project-developer").pk, "scope": f"project:{project.pk}"}
    assert alice_client.post(f"/members/{bob.pk}/", data).status_code == 302
    assignment = RoleAssignment.objects.get(user=bob, project=project)
    assert assignment.created_by.username == "alice"
    assert AuditEvent.objects.filter(action="role_assigned", resource_id=str(assignment.pk)).exists()
    html = alice_client.get(f"/members/{bob.pk}/").content.decode()
    assert "Project Developer" in html and f"/roles/{assignment.pk}/revoke" in html
    assert alice_client.post(f"/members/{bob.pk}/roles/{assignment.pk}/revoke").status_code == 302
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()
    assert alice_client.post(f"/members/{bob.pk}/remove").status_code == 302
    assert not bob.memberships.exists() and not RoleAssignment.objects.filter(user=bob).exists()


def test_invitation_link_is_shown_once(alice_client, tenant_a):
    data = {"email": "new@example.com", "role": role("tenant-viewer").pk, "scope": "tenant", "days": 3}
    response = alice_client.post("/members/", data)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    link = response.context["invitation_link"]
    assert "/invitations/" in link and link in response.content.decode()
    token = link.rstrip("/").rsplit("/", 1)[1]
    invitation = Invitation.objects.get(email="new@example.com")
    assert invitation.role_assignments.get().tenant == tenant_a
    assert Client().get(f"/invitations/{token}/").status_code == 200
    assert token not in alice_client.get("/members/").content.decode()
    assert not AuditEvent.objects.filter(changes__icontains=token).exists()


def test_invite_form_errors(alice_client):
    response = alice_client.post("/members/", {"email": "not-an-email", "role": "", "scope": "nowhere", "days": 0})
    assert response.status_code == 400
    errors = response.context["invite_form"].errors
    assert {"email", "role", "scope", "days"} <= set(errors)
    assert not Invitation.objects.exists()


# --- settings -----------------------------------------------------------------------------------
def test_settings_page_updates_the_tenant(alice_client, alice, tenant_a):
    html = alice_client.get("/settings/").content.decode()
    assert str(tenant_a.pk) in html and "migrate_secrets" in html and "zenml login http://testserver" in html
    data = {"name": "Alpha Prime", "description": XSS, "logo_url": "https://example.com/logo.png"}
    assert alice_client.post("/settings/", {**data, "enable_analytics": "on"}).status_code == 302
    tenant_a.refresh_from_db()
    assert (tenant_a.name, tenant_a.logo_url, tenant_a.enable_analytics) == (data["name"], data["logo_url"], True)
    assert AuditEvent.objects.filter(action="update", resource_type="tenant", actor=alice).exists()
    html = alice_client.get("/settings/").content.decode()
    assert XSS not in html and "&lt;script&gt;" in html


def test_settings_form_errors(alice_client, tenant_a):
    response = alice_client.post("/settings/", {"name": "  ", "logo_url": "not a url"})
    assert response.status_code == 400
    assert {"name", "logo_url"} <= set(response.context["form"].errors)
    tenant_a.refresh_from_db()
    assert tenant_a.name == "Alpha"
