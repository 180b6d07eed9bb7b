"""manage.py commands of the access model: organizations, tenants, users with roles, teams,
role assignments, invitations, service accounts and API keys; bad input is one CommandError line."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants.api.grants import authenticate_api_key
from tenants.models import (
    APIKey,
    AuditEvent,
    Invitation,
    Membership,
    Organization,
    RoleAssignment,
    Team,
    Tenant,
    User,
)
from tests.conftest import PASSWORD


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fails(*args, message: str) -> None:
    with pytest.raises(CommandError) as exc:
        run(*args)
    text = str(exc.value)
    assert message in text and "\n" not in text


def roles_of(user, **scope) -> set:
    return set(RoleAssignment.objects.filter(user=user, **scope).values_list("role__slug", flat=True))


@pytest.fixture
def org(db):
    run("create_organization", "globex", "--name", "Globex")
    return Organization.objects.get(slug="globex")


@pytest.fixture
def tenant(org):
    run("create_tenant", "labs", "--organization", "globex")
    return Tenant.objects.get(slug="labs")


def test_create_organization_and_refuse_a_duplicate(org):
    assert org.name == "Globex"
    assert AuditEvent.objects.filter(action="create", resource_id=str(org.pk), via="command").exists()
    fails("create_organization", "globex", message="already exists")
    fails("create_organization", "Not A Slug!", message="slug")


def test_create_tenant_in_an_organization_with_an_admin(org):
    User.objects.create_user("olga", password=PASSWORD)
    run("create_tenant", "ops", "--organization", "globex", "--admin", "olga")
    tenant = Tenant.objects.get(slug="ops")
    assert tenant.organization == org
    assert roles_of(User.objects.get(username="olga"), tenant=tenant) == {"tenant-admin"}
    fails("create_tenant", "ops2", "--organization", "nope", message="Organization 'nope' does not exist")
    fails("create_tenant", "ops3", "--organization", "globex", "--admin", "ghost", message="Unknown user 'ghost'")
    assert not Tenant.objects.filter(slug="ops3").exists()


def test_create_user_with_tenant_project_and_org_roles(tenant):
    run(
        "create_user", "ann", "--password", PASSWORD, "--tenant", "labs",
        "--role", "tenant-viewer", "--role", "stack-admin", "--org-role", "org-member",
    )  # fmt: skip
    ann = User.objects.get(username="ann")
    assert roles_of(ann, tenant=tenant, project=None) == {"tenant-viewer", "stack-admin"}
    assert roles_of(ann, tenant=None) == {"org-member"}
    run(
        "create_user",
        "ben",
        "--password",
        PASSWORD,
        "--tenant",
        "labs",
        "--role",
        "project-admin",
        "--project",
        "default",
    )
    ben = User.objects.get(username="ben")
    assert roles_of(ben, project__name="default") == {"project-admin"}
    assert Membership.objects.filter(tenant=tenant, member=ben).exists()


def test_create_user_reads_the_password_from_stdin(tenant, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    run("create_user", "cat", "--password", "-", "--tenant", "labs")
    assert User.objects.get(username="cat").check_password(PASSWORD)


def test_create_user_refuses_bad_roles_before_writing(tenant):
    base = ("create_user", "dan", "--password", PASSWORD, "--tenant", "labs")
    fails(*base, "--role", "nope", message="Unknown role 'nope'")
    fails(*base, "--role", "org-admin", message="organization role and cannot be assigned at tenant scope")
    fails(*base, "--role", "tenant-viewer", "--project", "default", message="tenant role and cannot be assigned at")
    fails(*base, "--role", "project-admin", "--project", "ghost", message="Unknown project 'ghost'")
    fails(*base, "--org-role", "tenant-admin", message="cannot be assigned at organization scope")
    fails("create_user", "dan", "--password", PASSWORD, "--role", "tenant-viewer", message="need --tenant")
    assert not User.objects.filter(username="dan").exists()


def test_create_team_with_members(org):
    User.objects.create_user("eve", password=PASSWORD)
    run("create_team", "ml", "--organization", "globex", "--member", "eve")
    team = Team.objects.get(organization=org, name="ml")
    assert list(team.members.values_list("username", flat=True)) == ["eve"]
    fails("create_team", "ml", "--organization", "globex", message="already has a team named 'ml'")
    fails("create_team", "x", "--organization", "globex", "--member", "ghost", message="Unknown user 'ghost'")
    fails("create_team", "x", "--organization", "nope", message="Unknown organization 'nope'")


def test_assign_and_revoke_roles_at_each_scope(tenant, org):
    fay = User.objects.create_user("fay", password=PASSWORD)
    run("create_team", "data", "--organization", "globex")
    run("assign_role", "tenant-developer", "--user", "fay", "--tenant", "labs")
    run("assign_role", "project-viewer", "--user", "fay", "--tenant", "labs", "--project", "default")
    run("assign_role", "org-viewer", "--team", "data", "--organization", "globex")
    assert roles_of(fay, tenant=tenant) == {"tenant-developer", "project-viewer"}
    assert RoleAssignment.objects.filter(team__name="data", role__slug="org-viewer").exists()
    assert AuditEvent.objects.filter(action="role_assigned", via="command").count() >= 3
    run("assign_role", "tenant-developer", "--user", "fay", "--tenant", "labs", "--revoke")
    assert roles_of(fay, tenant=tenant) == {"project-viewer"}
    assert AuditEvent.objects.filter(action="role_revoked", via="command").exists()
    fails("assign_role", "tenant-developer", "--user", "fay", "--tenant", "labs", "--revoke", message="No such")
    fails("assign_role", "tenant-admin", "--user", "fay", "--organization", "globex", message="tenant role")
    fails("assign_role", "tenant-admin", "--user", "fay", message="Name the scope")
    fails("assign_role", "tenant-admin", "--team", "ghost", "--tenant", "labs", message="Unknown team 'ghost'")
    fails("assign_role", "tenant-admin", "--user", "fay", "--tenant", "nope", message="Unknown tenant 'nope'")


def test_invite_user_prints_the_link_once(tenant, org):
    run("create_team", "ml", "--organization", "globex")
    out, _ = run(
        "invite_user", "gil@example.com", "--organization", "globex",
        "--role", "tenant-viewer", "--tenant", "labs", "--team", "ml",
    )  # fmt: skip
    link = out.strip()
    token = link.rstrip("/").rsplit("/", 1)[-1]
    invitation = Invitation.objects.get(email="gil@example.com")
    assert "/invitations/" in link and token not in str(vars(invitation))
    assert list(invitation.teams.values_list("name", flat=True)) == ["ml"]
    assert RoleAssignment.objects.filter(invitation=invitation, role__slug="tenant-viewer", tenant=tenant).exists()
    fails("invite_user", "h@example.com", "--organization", "globex", "--role", "tenant-viewer", message="tenant")
    fails("invite_user", "h@example.com", "--organization", "globex", "--tenant", "labs", message="name a --role")


def test_service_account_and_api_key_shown_once_stored_hashed(tenant, org):
    run(
        "create_service_account", "ci-bot", "--organization", "globex", "--tenant", "labs", "--role", "tenant-developer"
    )
    bot = User.objects.get(username="ci-bot")
    assert bot.is_service_account and bot.organization == org
    assert roles_of(bot, tenant=tenant) == {"tenant-developer"}
    out, err = run("create_api_key", "ci-bot", "deploy", "--expires-days", "30")
    plaintext = out.strip()
    assert plaintext.startswith("ZENKEY_") and plaintext not in err
    key = APIKey.objects.get(service_account=bot, name="deploy")
    assert key.expires is not None and plaintext not in str(vars(key))
    found, _ = authenticate_api_key(tenant, plaintext)
    assert found == key
    fails("create_api_key", "ci-bot", "deploy", message="already")
    fails("create_api_key", "ghost", "k", message="Unknown service account 'ghost'")
    fails("create_api_key", "ci-bot", "k2", "--expires-days", "0", message="at least 1")
    fails("create_service_account", "ci-bot", "--organization", "globex", message="exists already")
    fails("create_service_account", "x", "--organization", "globex", "--tenant", "labs", message="go together")
