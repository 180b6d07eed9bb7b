"""Leak tests: secrets with unique marker values go through the API (list, get, update, delete,
bad updates, backup), the admin, the dashboard and a reveal; then the logs (every logger at
DEBUG, SQL included), the responses that must not carry values, the admin and dashboard HTML,
the audit trail and every row of every table are searched for the markers: none is found.

Only the responses that exist to return values (create, a single GET with `read_secret_value`,
a dashboard reveal) are left out of the search. No Celery task touches secret values (the
secrets app has none; service connectors hand out credentials in requests only)."""

import base64
import logging

import pytest
from django.db import connection
from django.urls import reverse

from secrets_app.choices import BackendRole
from secrets_app.models import Secret, SecretBackendConfig
from tenants.models import AuditEvent, User
from tests.api_helpers import bearer_client
from tests.conftest import make_user
from tests.secrets_app.helpers import configure_openbao, marker


@pytest.fixture
def markers():
    return {name: marker(name) for name in ("public", "private", "updated", "rejected", "oversized", "deleted")}


@pytest.fixture
def captured(caplog):
    """Every log record of every logger, SQL statements with their parameters included."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    previous, connection.force_debug_cursor = connection.force_debug_cursor, True
    yield caplog
    connection.force_debug_cursor = previous


def every_row() -> str:
    """All rows of all tables, as text (the sql backend keeps values here, encrypted)."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from the database itself
            rows.append(f"{table}: {cursor.fetchall()!r}")
    return "\n".join(rows)


def forms_of(text: str) -> list[str]:
    """A marker as it could appear: plain, base64 (also URL-safe) and JSON-escaped."""
    raw = text.encode()
    return [text, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")]


def test_no_value_leaks_anywhere(tenant, api, admin, client, bao, captured, markers, settings):
    settings.SECRETS_MAX_VALUE_BYTES = 200
    configure_openbao(tenant, bao, role=BackendRole.BACKUP)
    viewer = make_user("viewer", tenant, role="tenant-viewer")
    searched = []  # texts that must not hold a value

    def call(method, path, body=None, as_client=None, keep=True):
        response = getattr(as_client or api, method)(path, body, format="json")
        if keep:
            searched.append(f"{method} {path} -> {response.status_code}: {response.content.decode()}")
        return response

    public = call("post", "/api/v1/secrets", {"name": "public", "values": {"pw": markers["public"]}}, keep=False)
    private = call(
        "post", "/api/v1/secrets", {"name": "mine", "private": True, "values": {"pw": markers["private"]}}, keep=False
    )
    doomed = call("post", "/api/v1/secrets", {"name": "doomed", "values": {"pw": markers["deleted"]}}, keep=False)
    public_path = f"/api/v1/secrets/{public.json()['id']}"
    call("get", "/api/v1/secrets")
    call("get", "/api/v1/secrets?hydrate=true&size=50")
    call("get", "/api/v1/secrets?name=contains:pub")
    call("get", public_path, as_client=bearer_client(viewer, tenant))  # metadata only
    call("get", f"/api/v1/secrets/{private.json()['id']}", as_client=bearer_client(viewer, tenant))  # 404
    call("put", f"{public_path}?patch_values=true", {"values": {"new": markers["updated"]}})
    call("put", public_path, {"values": {"pw": [markers["rejected"]], "n": 7}})
    call("put", public_path, {"values": [markers["rejected"]]})
    call("post", "/api/v1/secrets", {"name": 9, "values": {"pw": markers["rejected"]}})
    call("put", public_path, {"values": {"big": markers["oversized"] + "x" * 300}})
    call("put", "/api/v1/secrets_operations/backup")
    call("put", "/api/v1/secrets_operations/backup", as_client=bearer_client(viewer, tenant))  # 403
    call("delete", f"/api/v1/secrets/{doomed.json()['id']}")
    assert call("get", public_path, keep=False).json()["body"]["values"] == {
        "pw": markers["public"],
        "new": markers["updated"],
    }

    operator = User.objects.create_superuser("root", password="x" * 12)
    client.force_login(operator)
    pages = [reverse("admin:secrets_app_secret_changelist"), reverse("admin:tenants_auditevent_changelist")]
    pages += [
        reverse("admin:secrets_app_secret_change", args=[pk]) for pk in Secret.objects.values_list("pk", flat=True)
    ]
    pages += [reverse("admin:secrets_app_secretbackendconfig_changelist")]
    pages += [
        reverse("admin:secrets_app_secretbackendconfig_change", args=[c.pk]) for c in SecretBackendConfig.objects.all()
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        searched.append(f"admin {page}: {response.content.decode()}")

    client.force_login(admin)
    searched.append(f"dashboard: {client.get(reverse('secret-list')).content.decode()}")
    reveal = client.post(reverse("secret-reveal", args=[public.json()["id"]]), {"key": "pw"})
    assert markers["public"] in reveal.content.decode()  # what revealing is for; audited below without it

    assert any(record.name == "django.db.backends" for record in captured.records)  # SQL is searched too
    events = AuditEvent.objects.filter(action="read_secret_value")
    assert events.filter(via="dashboard").exists() and events.filter(via="api").exists()
    places = {
        "logs": "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in captured.records),
        "responses and pages": "\n".join(searched),
        "audit events": repr([event.__dict__ for event in AuditEvent.objects.all()]),
        "database": every_row(),
    }
    for name, value in markers.items():
        for place, text in places.items():
            for form in forms_of(value):
                assert form not in text, f"the {name} value ({form}) is in the {place}"
