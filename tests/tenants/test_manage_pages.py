"""The management pages (members, teams, roles, service accounts, settings): each renders for an
admin in a bounded number of queries; a viewer is refused every POST (403) and sees no action
button; other tenants' and organizations' objects are 404; privilege escalation is refused
(403, form error, audited); bad input is a form error; names are escaped."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tenants import access
from tenants.models import APIKey, AuditEvent, Invitation, Organization, Project, Role, RoleAssignment, Team, User
from tenants.models.service_accounts import decode_key
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
    for n in range(10):  # the counts do not grow with the rows
        make_user(f"member{n}", bob.memberships.first().tenant, role="tenant-viewer")
        access.issue_api_key(robot, f"key{n}")
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
        with django_assert_max_num_queries(15):
            response = alice_client.get(url)
        assert response.status_code == 200, url


def test_team_and_role_pages_render_for_org_admin_in_bounded_queries(
    olga, team, robot, custom_role, django_assert_max_num_queries
):
    client = logged_in(olga)
    access.add_team_member(team, robot)
    for n in range(10):
        access.add_team_member(team, make_user(f"teammate{n}"))
    for url in ("/teams/", f"/teams/{team.pk}/", "/roles/new", f"/roles/{custom_role.pk}/", "/service-accounts/"):
        with django_assert_max_num_queries(14):
            response = client.get(url)
        assert response.status_code == 200, url
    html = client.get(f"/teams/{team.pk}/").content.decode()
    assert "bob" in html and "ci-bot" in html and "Tenant Viewer" in html
    assert post_forms(html) >= 6  # delete, rename, 2 member removals, add member, revoke, assign


# --- a viewer -----------------------------------------------------------------------------------
@pytest.mark.parametrize("viewer", ["bob", "vera"])
def test_viewer_is_refused_every_post(viewer, request, bob, alice, robot, team, custom_role, tenant_a):
    key, _ = access.issue_api_key(robot, "deploy")
    invitation, _ = access.invite(
        tenant_a.organization, "x@example.com", roles=[{"role": "tenant-viewer", "tenant": tenant_a}]
    )
    assignment = RoleAssignment.objects.get(user=alice, tenant=tenant_a)
    team_assignment = team.role_assignments.get()
    client = logged_in(request.getfixturevalue(viewer))
    posts = {
        "/members/": {"email": "x@example.com", "role": role("tenant-viewer").pk, "scope": "tenant", "days": 7},
        f"/members/{alice.pk}/": {"role": role("tenant-viewer").pk, "scope": "tenant"},
        f"/members/{alice.pk}/remove": {},
        f"/members/{alice.pk}/roles/{assignment.pk}/revoke": {},
        f"/members/invitations/{invitation.pk}/withdraw": {},
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
    assert Team.objects.filter(name="ml-team").exists() and Invitation.objects.get() == invitation
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


def test_org_admin_sees_and_withdraws_pending_invitations(olga, alice_client, tenant_a, org):
    invitation, token = access.invite(org, "new@example.com", roles=[{"role": "tenant-viewer", "tenant": tenant_a}])
    access.invite(org, "elsewhere@example.com", roles=[{"role": "org-viewer"}])
    client = logged_in(olga)
    html = client.get("/members/").content.decode()
    assert "new@example.com" in html and "elsewhere@example.com" not in html and token not in html
    assert client.post(f"/members/invitations/{invitation.pk}/withdraw").status_code == 302
    assert not Invitation.objects.filter(pk=invitation.pk).exists()
    assert AuditEvent.objects.filter(action="delete", resource_type="invitation", actor=olga).exists()


def test_tenant_admin_sees_and_withdraws_invitations_into_her_tenant_only(alice, alice_client, tenant_a, org):
    """She may invite into her tenant (invitation:create there), so she sees and withdraws those
    invitations too; not one that also gives an organization role, a team, or another tenant."""
    from tests.conftest import make_tenant

    mine, _ = access.invite(org, "mine@example.com", roles=[{"role": "tenant-viewer", "tenant": tenant_a}], by=alice)
    wider, _ = access.invite(
        org, "wider@example.com", roles=[{"role": "tenant-viewer", "tenant": tenant_a}, {"role": "org-viewer"}]
    )
    team = access.create_team(org, "ml-team")
    teamed, _ = access.invite(
        org, "teamed@example.com", roles=[{"role": "tenant-viewer", "tenant": tenant_a}], teams=[team]
    )
    other = make_tenant("beta-two")
    both, _ = access.invite(
        org,
        "both@example.com",
        roles=[{"role": "tenant-viewer", "tenant": tenant_a}, {"role": "tenant-viewer", "tenant": other}],
    )
    html = alice_client.get("/members/").content.decode()
    assert "mine@example.com" in html
    assert all(email not in html for email in ("wider@example.com", "teamed@example.com", "both@example.com"))
    for hidden in (wider, teamed, both):
        assert alice_client.post(f"/members/invitations/{hidden.pk}/withdraw").status_code == 404
        with pytest.raises(access.Refused):
            access.delete_invitation(hidden, by=alice)
    assert alice_client.post(f"/members/invitations/{mine.pk}/withdraw").status_code == 302
    assert set(Invitation.objects.values_list("email", flat=True)) == {
        "wider@example.com",
        "teamed@example.com",
        "both@example.com",
    }


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


# --- service accounts and API keys -------------------------------------------------------------
def test_api_key_is_shown_once_only(alice_client, robot, caplog):
    future = (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    response = alice_client.post(f"/service-accounts/{robot.pk}/", {"name": "deploy", "expires": future})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    plaintext = response.context["plaintext"]
    assert plaintext.startswith("ZENKEY_") and plaintext in response.content.decode()
    key = APIKey.objects.get(service_account=robot, name="deploy")
    _, secret = decode_key(plaintext)
    assert key.generation_of(secret) == 1 and key.expires is not None

    detail = alice_client.get(f"/service-accounts/{robot.pk}/")
    listing = alice_client.get("/service-accounts/")
    for page in (detail, listing):
        assert plaintext not in page.content.decode() and secret not in page.content.decode()
    assert f"ZENKEY_…{str(key.pk)[:8]}" in detail.content.decode()
    rows = " ".join(str(list(e.values())) for e in AuditEvent.objects.values())
    assert "deploy" in rows and secret not in rows and plaintext not in rows
    assert secret not in caplog.text


def test_rotate_deactivate_and_delete_a_key(alice_client, robot):
    key, old = access.issue_api_key(robot, "deploy")
    url = f"/service-accounts/{robot.pk}/keys/{key.pk}"
    response = alice_client.post(f"{url}/rotate", {"retain_period_minutes": 30})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    new = response.context["plaintext"]
    assert new != old and new in response.content.decode()
    key.refresh_from_db()
    assert key.generation_of(decode_key(new)[1]) == 2 and key.generation_of(decode_key(old)[1]) == 1
    assert new not in alice_client.get(f"/service-accounts/{robot.pk}/").content.decode()
    assert alice_client.post(f"{url}/rotate", {"retain_period_minutes": -1}).status_code == 400
    assert alice_client.post(f"{url}/deactivate").status_code == 302
    key.refresh_from_db()
    assert not key.active
    assert alice_client.post(f"{url}/explode").status_code == 404
    assert alice_client.post(f"{url}/delete").status_code == 302
    assert not APIKey.objects.filter(pk=key.pk).exists()
    assert AuditEvent.objects.filter(action="delete", resource_type="api_key", resource_id=str(key.pk)).exists()


def test_minting_a_key_of_a_stronger_account_is_a_form_error(alice_client, alice, org, tenant_a):
    boss = access.create_service_account(org, "boss-bot")
    access.assign_role("tenant-developer", user=boss, tenant=tenant_a)
    access.assign_role("org-admin", user=boss, organization=org)
    response = alice_client.post(f"/service-accounts/{boss.pk}/", {"name": "mine"})
    assert response.status_code == 403
    assert "holds permissions you do not hold" in response.content.decode()
    assert "ZENKEY_" not in response.content.decode().replace("ZENKEY_…", "")
    assert not APIKey.objects.exists() and denied(alice, "holds permissions")
    key, _ = access.issue_api_key(boss, "theirs")
    refused = alice_client.post(f"/service-accounts/{boss.pk}/keys/{key.pk}/rotate", {"retain_period_minutes": 0})
    assert refused.status_code == 403 and "holds permissions you do not hold" in refused.content.decode()


def test_api_key_form_errors(alice_client, robot):
    past = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    url = f"/service-accounts/{robot.pk}/"
    for data, field in (({"name": "k", "expires": past}, "expires"), ({"name": "k", "expires": "soon"}, "expires")):
        response = alice_client.post(url, data)
        assert response.status_code == 400 and field in response.context["key_form"].errors, data
    assert alice_client.post(url, {"name": " "}).status_code == 400
    access.issue_api_key(robot, "taken")
    response = alice_client.post(url, {"name": "taken"})
    assert response.status_code == 400 and "name" in response.context["key_form"].errors
    assert APIKey.objects.count() == 1


def test_org_admin_creates_and_deactivates_a_service_account(olga, tenant_a):
    client = logged_in(olga)
    developer = role("tenant-developer").pk
    assert client.post("/service-accounts/", {"name": "deployer", "role": developer}).status_code == 302
    account = User.objects.get(username="deployer", is_service_account=True)
    assert RoleAssignment.objects.filter(user=account, tenant=tenant_a, role__slug="tenant-developer").exists()
    response = client.post("/service-accounts/", {"name": "deployer"})
    assert response.status_code == 400 and "exists already" in response.content.decode()
    assert client.post("/service-accounts/", {"name": "bad name!"}).status_code == 400
    assert client.post(f"/service-accounts/{account.pk}/active", {"active": "0"}).status_code == 302
    account.refresh_from_db()
    assert not account.is_active


def test_tenant_admin_cannot_create_service_accounts(alice_client):
    assert 'action="/service-accounts/"' not in alice_client.get("/service-accounts/").content.decode()
    assert alice_client.post("/service-accounts/", {"name": "sneaky"}).status_code == 403
    assert not User.objects.filter(username="sneaky").exists()


# --- teams ----------------------------------------------------------------------------------------
def test_org_admin_manages_a_team(olga, alice, tenant_a):
    client = logged_in(olga)
    assert client.post("/teams/", {"name": XSS, "description": "d"}).status_code == 302
    team = Team.objects.get(name=XSS)
    for url in ("/teams/", f"/teams/{team.pk}/"):
        html = client.get(url).content.decode()
        assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert client.post(f"/teams/{team.pk}/", {"name": "data"}).status_code == 302
    assert client.post(f"/teams/{team.pk}/members", {"user": alice.pk}).status_code == 302
    data = {"role": role("tenant-viewer").pk, "scope": "tenant"}
    assert client.post(f"/teams/{team.pk}/roles", data).status_code == 302
    assignment = RoleAssignment.objects.get(team=team, tenant=tenant_a)
    assert client.post(f"/teams/{team.pk}/roles/{assignment.pk}/revoke").status_code == 302
    assert client.post(f"/teams/{team.pk}/members/{alice.pk}/remove").status_code == 302
    team.refresh_from_db()
    assert team.name == "data" and not team.members.exists() and not team.role_assignments.exists()
    assert client.post(f"/teams/{team.pk}/delete").status_code == 302
    assert not Team.objects.filter(pk=team.pk).exists()
    actions = set(AuditEvent.objects.filter(resource_type="team").values_list("action", flat=True))
    assert {"create", "update", "delete"} <= actions


def test_team_form_errors(olga, team):
    client = logged_in(olga)
    response = client.post("/teams/", {"name": "  "})
    assert response.status_code == 400 and "name" in response.context["form"].errors
    response = client.post("/teams/", {"name": "ml-team"})
    assert response.status_code == 400 and "already exists" in response.content.decode()
    other = access.create_team(team.organization, "other")
    response = client.post(f"/teams/{other.pk}/", {"name": "ml-team"})
    assert response.status_code == 400 and Team.objects.filter(name="other").exists()
    response = client.post(f"/teams/{team.pk}/members", {"user": "not-a-user"})
    assert response.status_code == 400
    assert Team.objects.count() == 2


def test_assigning_a_team_a_role_above_oneself_is_refused(alice, team, org):
    """alice may assign tenant roles but not organization ones, also to a team."""
    access.assign_role("org-viewer", user=alice, organization=org)  # so alice sees the team
    client = logged_in(alice)
    data = {"role": role("org-admin").pk, "scope": "organization"}
    response = client.post(f"/teams/{team.pk}/roles", data)
    assert response.status_code == 403 and not team.role_assignments.filter(tenant=None).exists()
    assert denied(alice, "manage the roles")


# --- roles ----------------------------------------------------------------------------------------
def test_org_admin_creates_edits_and_deletes_a_custom_role(olga):
    client = logged_in(olga)
    grid = client.get("/roles/new").content.decode()
    assert 'value="pipeline_run:read"' in grid and 'value="tenant:share"' not in grid
    data = {"name": XSS, "level": "tenant", "permissions": ["pipeline_run:read", "pipeline:read"]}
    assert client.post("/roles/new", data).status_code == 302
    created = Role.objects.get(name=XSS)
    assert created.permissions == ["pipeline:read", "pipeline_run:read"] and not created.builtin
    for url in ("/roles/", f"/roles/{created.pk}/"):
        html = client.get(url).content.decode()
        assert XSS not in html and "&lt;script&gt;" in html
    edit = {"name": "Runs", "level": "project", "permissions": ["pipeline_run:read", "pipeline_run:update"]}
    assert client.post(f"/roles/{created.pk}/", edit).status_code == 302
    created.refresh_from_db()
    assert (created.name, created.level) == ("Runs", "tenant")  # the level stays
    assert created.permissions == ["pipeline_run:read", "pipeline_run:update"]
    assert client.post(f"/roles/{created.pk}/delete").status_code == 302
    assert not Role.objects.filter(pk=created.pk).exists()


def test_role_form_errors(olga, custom_role):
    client = logged_in(olga)
    response = client.post("/roles/new", {"name": "x", "level": "tenant", "permissions": ["pipeline_run:fly"]})
    assert response.status_code == 400 and "permissions" in response.context["form"].errors
    assert "pipeline_run:fly" in response.content.decode()
    response = client.post("/roles/new", {"name": "", "level": "galaxy"})
    assert response.status_code == 400 and {"name", "level"} <= set(response.context["form"].errors)
    response = client.post("/roles/new", {"name": "Run reader", "level": "tenant"})
    assert response.status_code == 400 and "already exists" in response.content.decode()
    builtin = role("tenant-viewer")
    assert client.post(f"/roles/{builtin.pk}/", {"name": "Mine", "permissions": []}).status_code == 403
    assert client.post(f"/roles/{builtin.pk}/delete").status_code == 403
    assert (
        role("tenant-viewer").name == "Tenant Viewer" and Role.objects.filter(organization__isnull=False).count() == 1
    )


def test_role_editor_cannot_grant_permissions_they_lack(org, tenant_a):
    manager = make_user("mona", tenant_a, role="tenant-viewer")
    access.assign_role("org-manager", user=manager, organization=org)
    client = logged_in(manager)
    data = {"name": "Secret reader", "level": "tenant", "permissions": ["secret:read_secret_value"]}
    response = client.post("/roles/new", data)
    assert response.status_code == 403 and "permissions you do not hold" in response.content.decode()
    assert not Role.objects.filter(name="Secret reader").exists() and denied(manager, "do not hold")


def test_predefined_role_page_is_read_only_and_grouped(olga):
    html = logged_in(olga).get(f"/roles/{role('project-viewer').pk}/").content.decode()
    assert post_forms(html) == 0 and "pipeline_run" in html and "?base=" in html
