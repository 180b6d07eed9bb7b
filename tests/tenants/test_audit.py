"""The audit trail: API writes, admin changes, commands, logins, lockouts and secret value reads
each append an AuditEvent; events cannot be changed; admins read them at /audit/."""

import io
import json
import logging

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tenants.models import AppendOnlyError, AuditEvent
from tests.api_helpers import bearer_client
from tests.conftest import PASSWORD, make_user

UA = "pytest-audit/1.0"


@pytest.fixture
def api(alice, tenant_a):
    client = bearer_client(alice, tenant_a)
    client.defaults.update(HTTP_USER_AGENT=UA, REMOTE_ADDR="10.1.2.3")
    return client


def events(**filters):
    return list(AuditEvent.objects.filter(**filters).order_by("created"))


def test_api_create_update_delete_are_audited(api, alice, tenant_a):
    created = api.post("/api/v1/projects", {"name": "audited"}, format="json")
    assert created.status_code == 200, created.content
    pk = created.json()["id"]
    assert api.put(f"/api/v1/projects/{pk}", {"description": "new words"}, format="json").status_code == 200
    assert api.delete(f"/api/v1/projects/{pk}").status_code == 200

    create, update, delete = events(resource_id=pk)
    assert [e.action for e in (create, update, delete)] == ["create", "update", "delete"]
    for event in (create, update, delete):
        assert (event.actor, event.tenant_id, event.via) == (alice, tenant_a.pk, "api")
        assert (event.ip_address, event.user_agent, event.resource_type) == ("10.1.2.3", UA, "project")
    assert create.changes["name"] == "audited"
    assert update.changes == {"description": ["", "new words"]}


def test_custom_api_write_is_audited_by_the_safety_net(api, tenant_a):
    response = api.post("/api/v1/logout")
    assert response.status_code == 200
    assert events(action="logout")[0].actor_name == "alice"
    before = AuditEvent.objects.count()
    assert api.get("/api/v1/projects").status_code == 200
    assert AuditEvent.objects.count() == before  # reads write nothing


def test_admin_change_is_audited(alice, tenant_a):
    from tenants.models import Project

    project = Project.objects.get(tenant=tenant_a, name="default")
    client = Client(HTTP_USER_AGENT=UA)
    client.force_login(alice)
    url = reverse("admin:tenants_project_change", args=[project.pk])
    form = {"name": "default", "display_name": "Renamed", "description": "", "project_metadata": "{}"}
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    (event,) = events(action="update", resource_id=str(project.pk))
    assert (event.via, event.actor, event.user_agent) == ("admin", alice, UA)
    assert event.changes["display_name"] == ["default", "Renamed"]


def test_command_changes_are_audited(db, tenant_a):
    call_command("create_user", "dora", "--password", PASSWORD, "--tenant", "alpha", stdout=io.StringIO())
    (created,) = events(action="create", resource_name="dora")
    assert (created.via, created.actor, created.detail) == ("command", None, "manage.py create_user")
    assert created.changes == {"username": "dora", "email": "", "is_superuser": False}
    assigned = events(action="role_assigned", tenant=tenant_a)
    assert assigned and assigned[-1].via == "command"


def test_dashboard_login_success_and_failure_are_audited(alice, tenant_a):
    client = Client(HTTP_USER_AGENT=UA)
    client.post("/login", {"username": "alice", "password": "wrong-password"})
    client.post("/login", {"username": "alice", "password": PASSWORD})
    failed, ok = events(action__in=["login", "login_failed"])
    assert (failed.action, failed.resource_name, failed.actor) == ("login_failed", "alice", None)
    assert (ok.action, ok.actor, ok.via, ok.user_agent) == ("login", alice, "dashboard", UA)
    assert "wrong-password" not in json.dumps([failed.changes, failed.detail, failed.resource_name])


def test_api_login_success_and_failure_are_audited(alice, tenant_a):
    client = Client()
    assert client.post("/api/v1/login", {"username": "alice", "password": "nope-nope"}).status_code == 401
    assert client.post("/api/v1/login", {"username": "alice", "password": PASSWORD}).status_code == 200
    bad_key = client.post("/api/v1/login", {"grant_type": "zenml-api-key", "password": "ZENKEY_garbage"})
    assert bad_key.status_code == 401
    found = [(e.action, e.via, e.resource_name) for e in events(action__in=["login", "login_failed"])]
    assert found == [
        ("login_failed", "api", "alice"),
        ("login", "api", "alice"),
        ("login_failed", "api", "API key (malformed)"),
    ]


def test_secret_values_never_reach_the_audit_trail_or_logs(api, caplog):
    marker = "s3cr3t-marker-5e1f9a"
    caplog.set_level(logging.DEBUG)
    created = api.post("/api/v1/secrets", {"name": "db", "values": {"password": marker}}, format="json")
    assert created.status_code == 200, created.content
    pk = created.json()["id"]
    assert api.get(f"/api/v1/secrets/{pk}").json()["body"]["values"] == {"password": marker}
    update = api.put(f"/api/v1/secrets/{pk}", {"values": {"password": marker + "2"}}, format="json")
    assert update.status_code == 200
    assert api.delete(f"/api/v1/secrets/{pk}").status_code == 200

    trail = events(resource_id=pk)
    assert [e.action for e in trail] == ["create", "read_secret_value", "read_secret_value", "update", "delete"]
    dumped = json.dumps([[e.changes, e.detail, e.resource_name] for e in AuditEvent.objects.all()])
    assert marker not in dumped
    assert marker not in caplog.text


def test_audit_events_cannot_be_changed_or_deleted(alice):
    event = AuditEvent.objects.first()
    assert event is not None
    event.detail = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(detail="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


def test_audit_page_lists_filters_and_pages_for_admins(alice, tenant_a, tenant_b, django_assert_max_num_queries):
    make_user("viewer", tenant_a, role="tenant-viewer")
    for _ in range(60):
        AuditEvent.objects.create(tenant=tenant_a, actor_name="robot", action="update", resource_type="stack")
    AuditEvent.objects.create(tenant=tenant_b, actor_name="robot", action="delete", resource_type="secret")
    client = Client()
    client.force_login(alice)
    with django_assert_max_num_queries(12):
        page = client.get("/audit/", {"actor": "robot"})
    assert page.status_code == 200
    assert page.context["paginator"].count == 60 and len(page.context["events"]) == 50
    assert client.get("/audit/", {"actor": "robot", "page": 2}).context["events"].__len__() == 10
    secret_events = client.get("/audit/", {"resource_type": "secret"})
    assert list(secret_events.context["events"]) == []  # tenant B's event stays in B
    assert client.get("/audit/", {"action": "login"}).status_code == 200
    assert client.get("/audit/", {"since": "not-a-date"}).context["events"].__len__() == 0


def test_audit_page_is_refused_to_viewers(tenant_a):
    viewer = make_user("viewer", tenant_a, role="tenant-viewer")
    client = Client()
    client.force_login(viewer)
    assert client.get("/audit/").status_code == 403
