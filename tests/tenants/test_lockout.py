"""Login rate limiting: after MLMETA_LOGIN_FAILURE_LIMIT failures for a username, or from one
address, the dashboard and POST /api/v1/login refuse even the right password until the cool-off
passes or an operator unlocks; every lockout is audited."""

import io
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tenants.models import AuditEvent
from tests.conftest import PASSWORD, make_user

LIMIT = 5


@pytest.fixture(autouse=True)
def limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


def api_login(username, password, address="10.0.0.1"):
    return Client(REMOTE_ADDR=address).post("/api/v1/login", {"username": username, "password": password})


def dashboard_login(username, password, address="10.0.0.1"):
    return Client(REMOTE_ADDR=address).post("/login", {"username": username, "password": password})


def test_api_locks_a_username_out_after_repeated_failures(alice):
    for _ in range(LIMIT - 1):
        assert api_login("alice", "wrong-password").status_code == 401
    assert api_login("alice", PASSWORD).status_code == 200  # a success before the limit resets the count
    for _ in range(LIMIT):
        api_login("alice", "wrong-password")
    refused = api_login("alice", PASSWORD, address="10.9.9.9")  # another address: the username is locked
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.json()["detail"][1]
    assert AuditEvent.objects.filter(action="login_failed", detail__startswith="locked out", resource_name="alice")


def test_dashboard_shows_the_lockout_as_a_form_error(alice):
    for _ in range(LIMIT):
        dashboard_login("alice", "wrong-password")
    page = dashboard_login("alice", PASSWORD)
    assert "_auth_user_id" not in page.client.session
    assert "Too many failed logins" in page.content.decode()
    assert api_login("alice", PASSWORD).status_code == 429  # one counter for both doors


def test_one_address_is_locked_out_across_usernames(alice, tenant_a):
    make_user("bob", tenant_a)
    for n in range(LIMIT):
        api_login(f"nobody{n}", "wrong-password", address="10.6.6.6")
    assert api_login("bob", PASSWORD, address="10.6.6.6").status_code == 429
    assert api_login("bob", PASSWORD, address="10.7.7.7").status_code == 200


def test_lockout_ends_after_the_cool_off_or_an_unlock(alice, settings):
    for _ in range(LIMIT):
        api_login("alice", "wrong-password")
    assert api_login("alice", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert api_login("alice", PASSWORD).status_code == 200
    for _ in range(LIMIT):
        api_login("alice", "wrong-password")
    assert api_login("alice", PASSWORD).status_code == 429
    call_command("axes_reset_username", "alice", stdout=io.StringIO())
    call_command("axes_reset_ip", "10.0.0.1", stdout=io.StringIO())
    assert api_login("alice", PASSWORD).status_code == 200
