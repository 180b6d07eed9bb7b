import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mlmeta.models import Flavor, Stack, StackComponent
from tenants import services
from tenants.models import Membership, Organization, Project, Tenant, User
from tenants.signals import tenant_created

ROOT = Path(__file__).resolve().parents[2]


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def install(db, settings, tmp_path):
    """Settings of a fresh install: no admin password configured, var/ in a temporary directory."""
    settings.VAR_DIR = tmp_path
    settings.MLMETA_ADMIN_USERNAME = "admin"
    settings.MLMETA_ADMIN_PASSWORD = ""
    settings.MLMETA_DEFAULT_TENANT = "default"
    return tmp_path


def assert_seeded(tenant: Tenant) -> None:
    assert Project.objects.filter(tenant=tenant, name="default", display_name="default", description="").count() == 1
    assert Flavor.objects.filter(tenant=tenant, is_custom=False, user=None).count() == 82
    stack = Stack.objects.get(tenant=tenant, name="default")
    assert stack.user is None
    components = {(c.type, c.name, c.flavor_name) for c in stack.components.all()}
    assert components == {
        ("orchestrator", "default", "local"),
        ("artifact_store", "default", "local"),
        ("deployer", "default", "local"),
    }


def test_bootstrap_twice_creates_everything_once(install):
    first = run("bootstrap")
    password_file = install / "admin-password.txt"
    password = password_file.read_text().strip()
    second = run("bootstrap")

    assert "created" in first and str(password_file) in first
    assert "created" not in second
    assert Organization.objects.filter(slug="default").count() == 1
    tenant = Tenant.objects.get(is_default=True)
    assert tenant.slug == "default"
    assert_seeded(tenant)
    assert StackComponent.objects.filter(tenant=tenant).count() == 3
    admin = User.objects.get()
    assert admin.username == "admin" and admin.is_superuser and admin.is_staff
    assert admin.check_password(password)
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert Membership.objects.filter(tenant=tenant, member=admin).count() == 1


def test_bootstrap_takes_admin_password_from_settings(install, settings):
    settings.MLMETA_ADMIN_PASSWORD = "first-admin-passphrase"
    run("bootstrap")
    assert User.objects.get(username="admin").check_password("first-admin-passphrase")
    assert not (install / "admin-password.txt").exists()

    settings.MLMETA_ADMIN_PASSWORD = "second-admin-passphrase"
    output = run("bootstrap")
    assert User.objects.get(username="admin").check_password("second-admin-passphrase")
    assert "password reset" in output


def test_bootstrap_keeps_existing_admin_password(install):
    run("bootstrap")
    admin = User.objects.get(username="admin")
    admin.set_password("changed-by-the-admin")
    admin.save()
    run("bootstrap")
    assert User.objects.get(username="admin").check_password("changed-by-the-admin")


def test_bootstrap_repairs_missing_seeds(install):
    run("bootstrap")
    tenant = Tenant.objects.get(slug="default")
    Flavor.objects.filter(tenant=tenant, type="orchestrator").delete()
    StackComponent.objects.filter(tenant=tenant, type="deployer").delete()

    output = run("bootstrap")

    assert "19 missing, re-created" in output
    assert_seeded(tenant)


def test_bootstrap_without_admin(install):
    run("bootstrap", "--no-admin")
    assert not User.objects.exists()
    assert_seeded(Tenant.objects.get(slug="default"))


def test_bootstrap_refuses_a_second_default_tenant(install, settings):
    run("bootstrap", "--no-admin")
    settings.MLMETA_DEFAULT_TENANT = "other"
    with pytest.raises(CommandError, match="already the default tenant"):
        run("bootstrap", "--no-admin")
    assert not Tenant.objects.filter(slug="other").exists()


def test_create_tenant_seeds_project_stack_and_flavors(install):
    output = run("create_tenant", "acme", "--name", "Acme Corp")
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.name == "Acme Corp" and not tenant.is_default
    assert tenant.organization.slug == "default"
    assert "/t/acme/api/v1" in output
    assert_seeded(tenant)


@pytest.mark.parametrize("slug", ["Bad Slug!", "-leading-dash", "UPPER"])
def test_create_tenant_rejects_bad_slug(install, slug):
    with pytest.raises(CommandError, match="slug"):
        run("create_tenant", slug)
    assert not Tenant.objects.exists()


def test_create_tenant_rejects_duplicate_slug(install):
    run("create_tenant", "acme")
    with pytest.raises(CommandError, match="already exists"):
        run("create_tenant", "acme")
    assert Tenant.objects.filter(slug="acme").count() == 1


def test_create_tenant_rejects_unknown_organization(install):
    with pytest.raises(CommandError, match="Organization 'nope' does not exist"):
        run("create_tenant", "acme", "--organization", "nope")
    assert not Tenant.objects.exists()


def test_create_tenant_rolls_back_when_seeding_fails(install):
    def broken_receiver(sender, tenant, **kwargs):
        raise RuntimeError("seeding failed")

    tenant_created.connect(broken_receiver, dispatch_uid="test.broken")
    try:
        with pytest.raises(RuntimeError):
            services.create_tenant("acme")
    finally:
        tenant_created.disconnect(dispatch_uid="test.broken")
    assert not Tenant.objects.filter(slug="acme").exists()
    assert not Project.objects.exists()


def test_create_user_with_memberships(install):
    run("create_tenant", "acme")
    run("create_tenant", "beta")
    run("create_user", "bob", "--password", "long-enough-pass", "--tenant", "acme", "--tenant", "beta")
    bob = User.objects.get(username="bob")
    assert bob.check_password("long-enough-pass") and not bob.is_superuser
    assert set(Membership.objects.filter(member=bob).values_list("tenant__slug", flat=True)) == {"acme", "beta"}


def test_create_user_rejects_unknown_tenant(install):
    run("create_tenant", "acme")
    with pytest.raises(CommandError, match="Unknown tenant: nope"):
        run("create_user", "bob", "--password", "long-enough-pass", "--tenant", "acme", "--tenant", "nope")
    assert not User.objects.exists()


def test_create_user_rejects_weak_password(install):
    with pytest.raises(CommandError, match="password: This password is too short"):
        run("create_user", "bob", "--password", "abc")
    assert not User.objects.exists()


def test_create_user_rejects_existing_user_unless_updating(install):
    run("create_tenant", "acme")
    run("create_user", "bob", "--password", "long-enough-pass")
    with pytest.raises(CommandError, match="already exists"):
        run("create_user", "bob", "--password", "another-long-pass")
    run("create_user", "bob", "--update", "--tenant", "acme", "--superuser")
    bob = User.objects.get(username="bob")
    assert bob.is_superuser and bob.check_password("long-enough-pass")
    assert Membership.objects.filter(member=bob, tenant__slug="acme").exists()


# The commands as an operator runs them: exit status and stderr, in a separate process.


def manage(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def process_env(tmp_path_factory):
    """Environment of a separate install: its own SQLite database and var/ directory, migrated."""
    var = tmp_path_factory.mktemp("var")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{var / 'db.sqlite3'}",
        "MLMETA_VAR_DIR": str(var),
        "MLMETA_ENV": "development",
    }
    result = manage("migrate", "--no-input", "-v", "0", env=env)
    assert result.returncode == 0, result.stderr
    return env


def test_create_tenant_help_exits_zero(process_env):
    result = manage("create_tenant", "--help", env=process_env)
    assert result.returncode == 0
    assert "--organization" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create_tenant", "Bad Slug!"], "slug"),
        (["create_tenant"], "the following arguments are required: slug"),
        (["create_user", "bob", "--password", "long-enough-pass", "--tenant", "nope"], "Unknown tenant: nope"),
        (["seed_demo", "--tenant", "nope"], "Tenant 'nope' does not exist"),
        (["seed_demo", "--runs", "0"], "--runs"),
    ],
)
def test_bad_arguments_print_one_line_without_traceback(process_env, args, message):
    result = manage(*args, env=process_env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
