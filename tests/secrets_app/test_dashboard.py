"""The dashboard's secrets page: keys with masked values; revealing one value is a CSRF-protected
POST that needs `read_secret_value` and writes an audit event naming the key, not the value."""

import pytest
from django.test import Client
from django.urls import reverse

from tenants.models import AuditEvent
from tests.conftest import make_user
from tests.secrets_app.helpers import create_secret, marker

PASSWORD = marker("dashboard")


@pytest.fixture
def shared(api):
    return create_secret(api, "db-creds", {"password": PASSWORD, "user": "svc"})


def page_as(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("secret-list"))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    return response.content.decode()


def test_the_page_lists_keys_with_masked_values(client, admin, shared):
    page = page_as(client, admin)
    assert "db-creds" in page and "<code>password</code>" in page and "<code>user</code>" in page
    assert "••••••••" in page and PASSWORD not in page and "svc</code>" not in page
    assert page.count(">Reveal</button>") == 2


def test_reveal_shows_one_value_and_audits_the_key(client, admin, shared):
    client.force_login(admin)
    response = client.post(reverse("secret-reveal", args=[shared["id"]]), {"key": "password"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    page = response.content.decode()
    assert f'<code class="revealed">{PASSWORD}</code>' in page and "svc</code>" not in page
    event = AuditEvent.objects.get(action="read_secret_value", actor=admin, via="dashboard")
    assert event.resource_id == shared["id"] and event.detail == "key password"
    assert PASSWORD not in repr(event.__dict__)
    assert PASSWORD not in page_as(client, admin)  # shown once, masked again


def test_a_viewer_sees_keys_but_may_not_reveal(client, tenant, shared):
    viewer = make_user("viewer", tenant, role="tenant-viewer")
    page = page_as(client, viewer)
    assert "<code>password</code>" in page and "Reveal</button>" not in page
    response = client.post(reverse("secret-reveal", args=[shared["id"]]), {"key": "password"})
    assert response.status_code == 403 and PASSWORD not in response.content.decode()
    assert AuditEvent.objects.filter(action="permission_denied", actor=viewer).exists()
    assert not AuditEvent.objects.filter(action="read_secret_value", actor=viewer).exists()


def test_reveal_needs_the_csrf_token(admin, shared):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(reverse("secret-reveal", args=[shared["id"]]), {"key": "password"})
    assert response.status_code == 403 and PASSWORD not in response.content.decode()
    assert not AuditEvent.objects.filter(action="read_secret_value", via="dashboard").exists()


def test_private_secrets_of_others_and_unknown_keys_are_not_found(client, tenant, api, admin):
    private = create_secret(api, "mine", {"k": PASSWORD}, private=True)
    dev = make_user("dev", tenant)
    assert "mine" not in page_as(client, dev)
    assert client.post(reverse("secret-reveal", args=[private["id"]]), {"key": "k"}).status_code == 404
    client.force_login(admin)
    assert client.post(reverse("secret-reveal", args=[private["id"]]), {"key": "nope"}).status_code == 404
    assert client.get(reverse("secret-reveal", args=[private["id"]])).status_code == 405


def test_the_page_needs_a_login(client, shared):
    response = client.get(reverse("secret-list"))
    assert response.status_code == 302 and "/login" in response["Location"]
