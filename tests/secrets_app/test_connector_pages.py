"""Service connector pages: list and detail with bounded queries; create and edit from the type's
auth method schema, secret values stored through the secrets backend as the API stores them and
never rendered back (a blank secret field keeps the stored value); Verify; delete (refused while
components use the connector); RBAC, other tenants, escaping, and no secret in pages or audit rows."""

import json

import pytest

from mlmeta.models import StackComponent
from secrets_app.models import ServiceConnector
from tenants.models import AuditEvent
from tests.conftest import make_user
from tests.secrets_app.helpers import marker

TOKEN = marker("connector-token")
XSS = "<script>alert('pwned')</script>"
UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing listens


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def generic(**overrides):
    data = {
        "type": "generic",
        "auth_method": "secrets",
        "name": "svc",
        "description": "",
        "resource_type": "generic-service",
        "resource_id": "",
        "config-url": "",
        "config-username": "robot",
        "config-token": TOKEN,
        "config-password": "",
    }
    data.update(overrides)
    return data


def create(client, **overrides) -> ServiceConnector:
    response = client.post("/connectors/new", generic(**overrides))
    assert response.status_code == 302, response.content.decode()[:2000]
    return ServiceConnector.objects.get(name=overrides.get("name", "svc"))


def pages_of(client, connector) -> str:
    urls = ("/connectors/", f"/connectors/{connector.pk}/", f"/connectors/{connector.pk}/edit")
    return "".join(client.get(url).content.decode() for url in urls)


def test_create_stores_secrets_in_the_backend_and_never_shows_them(admin_client, admin):
    connector = create(admin_client)
    assert connector.configuration == {"username": "robot"} and connector.secret.keys == ["token"]
    assert connector.secret_values(admin) == {"token": TOKEN}
    html = pages_of(admin_client, connector)
    assert TOKEN not in html and "<code>token</code>" in html and "robot" in html
    assert 'type="password" name="config-token"' in html and "A value is stored" in html
    assert TOKEN not in json.dumps(list(AuditEvent.objects.values()), default=str)
    assert AuditEvent.objects.filter(action="create", resource_id=str(connector.pk), via="dashboard").exists()


def test_pages_render_with_bounded_queries(admin_client, tenant, admin, django_assert_max_num_queries):
    connector = create(admin_client)
    for number in range(12):  # rows enough for an N+1 query to break the bound
        other = ServiceConnector.objects.create(
            tenant=tenant, user=admin, name=f"c{number}", connector_type="aws", auth_method="secret-key"
        )
        StackComponent.objects.create(
            tenant=tenant, name=f"s{number}", type="artifact_store", flavor_name="s3", connector=other
        )
        StackComponent.objects.create(
            tenant=tenant, name=f"u{number}", type="orchestrator", flavor_name="local", connector=connector
        )
    urls = [
        "/connectors/",
        f"/connectors/{connector.pk}/",
        f"/connectors/{connector.pk}/edit",
        "/connectors/new",
        "/connectors/new?type=aws",
        "/connectors/new?type=aws&auth_method=secret-key",
    ]
    for url in urls:
        with django_assert_max_num_queries(14):
            response = admin_client.get(url)
        assert response.status_code == 200 and response["Cache-Control"] == "no-store", url
    chooser = admin_client.get("/connectors/new").content.decode()
    assert "/connectors/new?type=aws" in chooser and "Generic Service Connector" in chooser
    methods = admin_client.get("/connectors/new?type=aws").content.decode()
    assert "type=aws&amp;auth_method=secret-key" in methods
    form = admin_client.get("/connectors/new?type=aws&auth_method=secret-key").content.decode()
    assert 'name="type" value="aws"' in form and 'name="auth_method" value="secret-key"' in form


def test_a_blank_secret_field_keeps_the_stored_value(admin_client, admin):
    connector = create(admin_client)
    edit = f"/connectors/{connector.pk}/edit"
    assert admin_client.post(edit, generic(name="svc2", **{"config-token": ""})).status_code == 302
    connector.refresh_from_db()
    assert connector.name == "svc2" and connector.secret_values(admin) == {"token": TOKEN}
    assert admin_client.post(edit, generic(name="svc2", **{"config-token": "new-value"})).status_code == 302
    assert connector.secret_values(admin) == {"token": "new-value"}
    events = AuditEvent.objects.filter(action="update", resource_id=str(connector.pk))
    assert events.count() == 2 and TOKEN not in json.dumps(list(events.values()), default=str)


def test_required_fields_and_bad_values_are_form_errors(admin_client):
    form = {
        "type": "aws",
        "auth_method": "secret-key",
        "name": "aws",
        "resource_type": "s3-bucket",
        "config-aws_access_key_id": "",
        "config-aws_secret_access_key": "",
        "config-region": "us-east-1",
    }
    response = admin_client.post("/connectors/new", form)
    assert response.status_code == 422
    errors = response.context["config"].errors
    assert "aws_access_key_id" in errors and "aws_secret_access_key" in errors
    assert not ServiceConnector.objects.filter(name="aws").exists()
    unknown = admin_client.post("/connectors/new", {**form, "type": "nope"})
    assert unknown.status_code == 404


def test_verify_shows_resources_or_the_error(admin_client):
    connector = create(admin_client)
    page = admin_client.post(f"/connectors/{connector.pk}/verify").content.decode()
    assert "The credentials work." in page and "<code>generic</code>" in page
    broken = create(admin_client, name="down", **{"config-url": UNREACHABLE})
    page = admin_client.post(f"/connectors/{broken.pk}/verify").content.decode()
    assert "Cannot reach" in page and TOKEN not in page


def test_a_connector_in_use_is_not_deleted(admin_client, tenant, admin):
    connector = create(admin_client)
    component = StackComponent.objects.create(
        tenant=tenant, user=admin, name="store", type="artifact_store", flavor_name="local", connector=connector
    )
    response = admin_client.post(f"/connectors/{connector.pk}/delete")
    assert response.status_code == 409 and "still referenced by 1 stack components" in response.content.decode()
    assert f"/components/{component.pk}/" in admin_client.get(f"/connectors/{connector.pk}/").content.decode()
    component.delete()
    secret_id = connector.secret_id
    assert admin_client.post(f"/connectors/{connector.pk}/delete")["Location"] == "/connectors/"
    assert not ServiceConnector.objects.filter(pk=connector.pk).exists()
    from secrets_app.models import Secret

    assert not Secret.objects.filter(pk=secret_id).exists()


def test_a_viewer_sees_no_buttons_and_may_not_post(admin_client, client, tenant):
    connector = create(admin_client)
    client.force_login(make_user("viewer", tenant, role="tenant-viewer"))
    for url in ("/connectors/", f"/connectors/{connector.pk}/"):
        page = client.get(url).content.decode()
        assert "New connector" not in page and "Delete…" not in page and "/edit" not in page, url
    for url in ("/connectors/new", f"/connectors/{connector.pk}/edit", f"/connectors/{connector.pk}/delete"):
        assert client.post(url, generic(name="stolen")).status_code == 403, url
    assert ServiceConnector.objects.get(pk=connector.pk).name == "svc"
    assert AuditEvent.objects.filter(action="permission_denied", resource_type="service_connector").count() == 3


def test_other_tenants_ids_are_not_found(admin_client, client, other):
    connector = create(admin_client)
    client.force_login(make_user("stranger", other, is_admin=True))
    for url in ("/", "/edit"):
        assert client.get(f"/t/other/connectors/{connector.pk}{url}").status_code == 404
    for url in ("/edit", "/delete", "/verify"):
        assert client.post(f"/t/other/connectors/{connector.pk}{url}", generic()).status_code == 404
    assert str(connector.pk) not in client.get("/t/other/connectors/").content.decode()


def test_names_and_values_are_escaped(admin_client):
    connector = create(admin_client, name=XSS, description=XSS, **{"config-username": XSS})
    html = pages_of(admin_client, connector)
    assert XSS not in html and "&lt;script&gt;" in html
