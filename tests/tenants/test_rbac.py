"""The decisions of tenants.rbac, role by role (features.md 3.2): what each predefined role sees
and may change, creators' rights, teams, shares, organization roles, and the cost of deciding."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mlmeta.models import PipelineRun, Stack
from tenants import access, rbac
from tenants.models import Organization, Project, Team, Tenant, User
from tests.conftest import make_user
from tests.factories import populate


@pytest.fixture
def world(tenant_a, alice):
    return populate(tenant_a, alice)


def fresh(user):
    """The user as a new request sees them (grants are cached per user object)."""
    return User.objects.get(pk=user.pk)


def visible(model, user, action="read"):
    return set(model.objects.restrict(fresh(user), action).values_list("pk", flat=True))


def test_user_without_a_role_sees_nothing(world):
    nobody = make_user("nobody")
    assert visible(PipelineRun, nobody) == set()
    assert not rbac.may_use_tenant(fresh(nobody), world.tenant)


def test_viewer_reads_everything_and_changes_nothing(world):
    bob = make_user("bob", world.tenant, role="tenant-viewer")
    run, stack = world[PipelineRun], world[Stack]
    assert run.pk in visible(PipelineRun, bob) and stack.pk in visible(Stack, bob)
    for action in ("update", "delete"):
        assert not rbac.check(fresh(bob), action, run)
        assert not rbac.check(fresh(bob), action, stack)
    assert not rbac.can(fresh(bob), "create", "pipeline_run", tenant=world.tenant)


def test_developer_changes_others_stacks_but_deletes_only_their_own(world):
    dev = make_user("dev", world.tenant, role="tenant-developer")
    theirs = world[Stack]
    own = Stack.objects.create(tenant=world.tenant, user=dev, name="own-stack")
    assert rbac.check(fresh(dev), "update", theirs)
    assert not rbac.check(fresh(dev), "delete", theirs)
    assert rbac.check(fresh(dev), "delete", own)
    assert rbac.check(fresh(dev), "delete", world[PipelineRun])


def test_contributor_sees_only_their_own_stacks_and_no_runs(world):
    con = make_user("con", world.tenant, role="tenant-contributor")
    own = Stack.objects.create(tenant=world.tenant, user=con, name="mine")
    assert visible(Stack, con) == {own.pk}
    assert visible(PipelineRun, con) == set()
    assert rbac.can(fresh(con), "create", "stack", tenant=world.tenant)


def test_stack_admin_manages_stacks_and_sees_no_runs(world):
    ops = make_user("ops", world.tenant, role="stack-admin")
    assert rbac.check(fresh(ops), "delete", world[Stack])
    assert visible(PipelineRun, ops) == set()


def test_project_viewer_sees_only_their_project(world):
    other_project = Project.objects.create(tenant=world.tenant, name="other")
    pv = make_user("pv")
    access.assign_role("project-viewer", user=pv, project=other_project)
    assert rbac.may_use_tenant(fresh(pv), world.tenant)
    assert visible(PipelineRun, pv) == set()
    run = PipelineRun.objects.create(
        tenant=world.tenant, project=other_project, pipeline=None, name="in-other", user=world.member
    )
    assert visible(PipelineRun, pv) == {run.pk}
    assert visible(Stack, pv) == set()  # project roles grant nothing on stacks
    assert visible(Project, pv) == {other_project.pk}


def test_team_roles_apply_to_members(world):
    team = Team.objects.create(organization=world.tenant.organization, name="ml")
    member = make_user("teammate")
    team.members.add(member)
    assert visible(PipelineRun, member) == set()
    access.assign_role("tenant-viewer", team=team, tenant=world.tenant)
    assert world[PipelineRun].pk in visible(PipelineRun, member)


def test_shared_resource_is_readable_by_the_user_it_is_shared_with(world):
    guest = make_user("guest")
    stack = world[Stack]
    access.assign_role("stack-admin", user=guest, tenant=world.tenant, resource_type="stack", resource_id=stack.pk)
    assert visible(Stack, guest) == {stack.pk}
    assert rbac.check(fresh(guest), "update", stack)
    assert visible(PipelineRun, guest) == set()


def test_org_admin_sees_every_tenant_and_org_manager_no_contents(world, tenant_b, charlie):
    populate(tenant_b, charlie)
    org = world.tenant.organization
    boss, manager = make_user("boss"), make_user("manager")
    access.assign_role("org-admin", user=boss, organization=org)
    access.assign_role("org-manager", user=manager, organization=org)
    assert visible(PipelineRun, boss) == set(PipelineRun.objects.values_list("pk", flat=True))
    assert rbac.is_tenant_admin(fresh(boss), world.tenant)
    assert visible(PipelineRun, manager) == set()
    assert not rbac.may_use_tenant(fresh(manager), world.tenant)
    assert set(Tenant.objects.restrict(fresh(manager)).values_list("pk", flat=True)) >= {world.tenant.pk}
    assert rbac.can(fresh(manager), "create", "team", organization=org)


def test_roles_of_another_organization_grant_nothing_here(world):
    elsewhere = Organization.objects.create(slug="globex", name="Globex")
    outsider = make_user("outsider")
    access.assign_role("org-admin", user=outsider, organization=elsewhere)
    assert visible(PipelineRun, outsider) == set()
    assert not rbac.may_use_tenant(fresh(outsider), world.tenant)


def test_deactivated_tenant_grants_nothing(world):
    bob = make_user("bob", world.tenant, role="tenant-viewer")
    Tenant.objects.filter(pk=world.tenant.pk).update(active=False)
    assert visible(PipelineRun, bob) == set()


def test_role_scope_must_match_its_level(world):
    from django.core.exceptions import ValidationError

    user = make_user("mismatch")
    with pytest.raises(ValidationError):
        access.assign_role("project-viewer", user=user, tenant=world.tenant)
    with pytest.raises(ValidationError):
        access.assign_role("tenant-viewer", user=user, organization=world.tenant.organization)


def test_decisions_cost_a_fixed_number_of_queries(world):
    bob = make_user("bob", world.tenant, role="tenant-viewer")
    team = Team.objects.create(organization=world.tenant.organization, name="readers")
    team.members.add(bob)
    access.assign_role("tenant-viewer", team=team, tenant=world.tenant)
    user = fresh(bob)
    with CaptureQueriesContext(connection) as first:
        rbac.grants(user)
    with CaptureQueriesContext(connection) as again:
        for _ in range(50):
            rbac.check(user, "read", world[PipelineRun])
            rbac.check(user, "update", world[Stack])
            PipelineRun.objects.restrict(user).query  # noqa: B018 (builds the clause only)
    assert len(first) <= 3
    assert len(again) == 0


def test_grants_of_tenant_project_and_shared_roles_take_one_query(tenant_a, tenant_b, alice):
    """The per-request authorization load: one query, the tenants' organizations come with it."""
    bob = make_user("bob", tenant_b)
    project = Project.objects.create(tenant=tenant_a, name="side")
    access.assign_role("project-viewer", user=bob, project=project)
    for user, tenants in ((alice, {tenant_a.pk}), (bob, {tenant_a.pk, tenant_b.pk})):
        user = fresh(user)
        with CaptureQueriesContext(connection) as ctx:
            g = rbac.grants(user)
        assert len(ctx.captured_queries) == 1
        assert g.usable_tenants == tenants
        assert g.tenant_org == dict.fromkeys(tenants, tenant_a.organization_id)
        assert rbac.grants(user) is g  # per user object, that is per request
