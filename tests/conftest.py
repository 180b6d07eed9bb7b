"""Shared fixtures: the personas of STYLE.md (alice in tenant A, charlie in tenant B) and the
service checks. With CI=true the suite runs on PostgreSQL and Redis and refuses to start,
rather than skip, when one of them is missing."""

import json
import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings

from tenants import access
from tenants.models import Organization, Project, Tenant, User
from tenants.services import create_tenant
from tests.api_helpers import bearer_client

IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct-horse-battery"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=3):
            return True
    except OSError:
        return False


def isolate_xdist_worker() -> None:
    """Under pytest-xdist (`make test` runs two workers), a broker of this worker's own: a key
    prefix on Redis, folders of its own for the embedded filesystem broker. Set in this process
    and, through MLMETA_BROKER_OPTIONS (which the settings merge into the transport options),
    in every process its tests start, so a Celery worker one test starts never takes the tasks
    of a test in the other pytest worker."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folders = settings.VAR_DIR / "broker" / worker
        options = {
            "data_folder_in": str(folders / "queue"),
            "data_folder_out": str(folders / "queue"),
            "processed_folder": str(folders / "processed"),
            "control_folder": str(folders / "control"),
        }
        for folder in set(options.values()):
            os.makedirs(folder, exist_ok=True)
    else:
        options = {"global_keyprefix": f"{worker}:"}
    os.environ["MLMETA_BROKER_OPTIONS"] = json.dumps(
        {**json.loads(os.environ.get("MLMETA_BROKER_OPTIONS", "{}")), **options}
    )
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, **options}
    from config.celery import app

    app.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS


isolate_xdist_worker()


SHARED_SERVERS = ("mlmeta_server", "migrated_sqlite")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Groups for pytest-xdist's `--dist loadgroup` (`make test`): a module's tests run in one
    worker, so its module-scoped fixtures are built once; every e2e module that uses the session's
    MLMeta server (mlmeta_server), or the session's SQLite servers and their migrated template
    (migrated_sqlite), runs in one worker with the others of its kind, so each is started once.
    Those two long groups go first (`--no-loadscope-reorder` keeps this order), one to each
    worker, while the short modules even out the rest; they use no test database, so running
    before pytest-django's database tests changes nothing for those."""
    shared = {}
    for item in items:
        for fixture in SHARED_SERVERS:
            if fixture in item.fixturenames:
                shared[item.module.__name__] = fixture
    for item in items:
        item.add_marker(pytest.mark.xdist_group(shared.get(item.module.__name__, item.module.__name__)))
    rank = {fixture: position for position, fixture in enumerate(SHARED_SERVERS)}
    items.sort(key=lambda item: rank.get(shared.get(item.module.__name__), len(rank)))


def pytest_sessionstart(session):
    if not IN_CI:
        return
    db_url = os.environ.get("DATABASE_URL", "")
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    problems = []
    if not db_url.startswith("postgres"):
        problems.append("DATABASE_URL must point at PostgreSQL in CI")
    elif not _reachable(db_url, 5432):
        problems.append(f"PostgreSQL is not reachable at {urlparse(db_url).netloc}")
    if not broker_url.startswith("redis"):
        problems.append("CELERY_BROKER_URL must point at Redis in CI")
    elif not _reachable(broker_url, 6379):
        problems.append(f"Redis is not reachable at {urlparse(broker_url).netloc}")
    if problems:
        pytest.exit("CI services missing: " + "; ".join(problems), returncode=3)


def uses_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and not uses_postgres():
        if IN_CI:
            pytest.fail("This test needs PostgreSQL and CI runs without it.")
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")


def make_tenant(slug: str, *, is_default: bool = False) -> Tenant:
    org, _ = Organization.objects.get_or_create(slug="acme", defaults={"name": "Acme"})
    tenant = Tenant.objects.create(organization=org, slug=slug, name=slug.title(), is_default=is_default)
    Project.objects.create(tenant=tenant, name="default")
    return tenant


def make_user(username: str, *tenants: Tenant, is_admin: bool = False, role: str | None = None, **extra) -> User:
    """A user with `role` in each of `tenants` (tenant-admin with `is_admin`, else tenant-developer)."""
    user = User.objects.create_user(username=username, password=PASSWORD, **extra)
    for tenant in tenants:
        access.add_member(tenant, user, role or ("tenant-admin" if is_admin else "tenant-developer"))
    return user


@pytest.fixture
def tenant_a(db):
    return make_tenant("alpha", is_default=True)


@pytest.fixture
def tenant_b(db):
    return make_tenant("beta")


@pytest.fixture
def alice(tenant_a):
    """Tenant admin of A."""
    return make_user("alice", tenant_a, is_admin=True)


@pytest.fixture
def charlie(tenant_b):
    """Tenant admin of B."""
    return make_user("charlie", tenant_b, is_admin=True)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def charlie_client(client, charlie):
    client.force_login(charlie)
    return client


@pytest.fixture
def tenant(db):
    """A tenant seeded like a fresh server (default project, stack and flavors), served at the root."""
    return create_tenant("acme", name="Acme", is_default=True)


@pytest.fixture
def project(tenant):
    return Project.objects.get(tenant=tenant, name="default")


@pytest.fixture
def api(admin, tenant):
    """The API as `admin` (defined by each module: who the admin is differs) sees it."""
    return bearer_client(admin, tenant)


@pytest.fixture
def other(db):
    """A second seeded tenant, at /t/other/."""
    return create_tenant("other", name="Other")
