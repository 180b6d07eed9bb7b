"""Stack and stack component management pages: bounded queries, create / edit / delete through the
rules of /api/v1 (a component in use or the default stack stays), forms generated from the
flavor's JSON schema with per-field errors, RBAC (a viewer sees no buttons and gets 403 on POST),
other tenants' ids (404), audit, and escaping."""

import json

import pytest

from mlmeta.models import Flavor, Stack, StackComponent
from tenants.models import AuditEvent
from tests.conftest import make_user

XSS = "<script>alert('pwned')</script>"
TOKEN = "tok-4b1d-very-secret"
SCHEMA = {
    "properties": {
        "host": {"type": "string", "title": "Host", "description": f"Where it runs {XSS}"},
        "port": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None, "title": "Port"},
        "ratio": {"type": "number", "default": 0.5},
        "synchronous": {"type": "boolean", "default": True},
        "mode": {"$ref": "#/$defs/Mode", "default": "fast"},
        "tags": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}], "default": None},
        "settings": {"type": "object"},
        "api_token": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "sensitive": True},
    },
    "required": ["host", "settings"],
    "$defs": {"Mode": {"enum": ["fast", "safe"], "type": "string"}},
}


@pytest.fixture
def world(tenant_a, alice):
    owned = {"tenant": tenant_a, "user": alice}
    for kind in ("orchestrator", "artifact_store"):
        Flavor.objects.create(name="local", type=kind, source=f"zenml.{kind}.Local", **owned)
    Flavor.objects.create(name="rich", type="orchestrator", source="x.Rich", config_schema=SCHEMA, **owned)
    orchestrator = StackComponent.objects.create(name="orch", type="orchestrator", flavor_name="local", **owned)
    store = StackComponent.objects.create(name="store", type="artifact_store", flavor_name="local", **owned)
    stack = Stack.objects.create(name="prod", **owned)
    stack.components.set([orchestrator, store])
    return {"orchestrator": orchestrator, "store": store, "stack": stack}


@pytest.fixture
def viewer_client(client, tenant_a):
    client.force_login(make_user("bob", tenant_a, role="tenant-viewer"))
    return client


def rich_form(**overrides):
    data = {
        "type": "orchestrator",
        "flavor": "rich",
        "name": "rich-one",
        "config-host": "example.org",
        "config-port": "8080",
        "config-ratio": "0.75",
        "config-synchronous": "on",
        "config-mode": "safe",
        "config-tags": '["a", "b"]',
        "config-settings": '{"nested": {"k": 1}}',
        "config-api_token": TOKEN,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- components -------------------------------------------------------------------------------


def test_component_pages_render_with_bounded_queries(alice_client, world, django_assert_max_num_queries):
    orchestrator = world["orchestrator"]
    for number in range(12):  # rows enough for an N+1 query to break the bound
        extra = StackComponent.objects.create(
            name=f"extra-{number}", type="artifact_store", flavor_name="local", tenant=orchestrator.tenant
        )
        Stack.objects.create(name=f"stack-{number}", tenant=orchestrator.tenant).components.set([orchestrator, extra])
    pages = [
        "/components/",
        "/components/?type=orchestrator",
        f"/components/{orchestrator.pk}/",
        f"/components/{orchestrator.pk}/edit",
        "/components/new",
        "/components/new?type=orchestrator",
        "/components/new?type=orchestrator&flavor=rich",
    ]
    for url in pages:
        with django_assert_max_num_queries(14):
            response = alice_client.get(url)
        assert response.status_code == 200, url
    listing = alice_client.get("/components/").content.decode()
    assert "orch" in listing and "store" in listing and "New component" in listing
    form = alice_client.get("/components/new?type=orchestrator&flavor=rich").content.decode()
    assert 'name="config-host"' in form and 'type="password" name="config-api_token"' in form
    assert '<option value="safe">' in form and 'value="0.5"' in form  # enum and default
    assert "Where it runs &lt;script&gt;" in form and XSS not in form


def test_create_component_from_the_flavor_schema(alice_client, world, alice):
    response = alice_client.post("/components/new", rich_form())
    component = StackComponent.objects.get(name="rich-one")
    assert response.status_code == 302 and response["Location"] == f"/components/{component.pk}/"
    assert component.user == alice and component.flavor_name == "rich"
    assert component.configuration == {
        "host": "example.org",
        "port": 8080,
        "ratio": 0.75,
        "synchronous": True,
        "mode": "safe",
        "tags": ["a", "b"],
        "settings": {"nested": {"k": 1}},
        "api_token": TOKEN,
    }
    event = AuditEvent.objects.get(action="create", resource_id=str(component.pk))
    assert event.via == "dashboard" and TOKEN not in json.dumps(event.changes)
    detail = alice_client.get(f"/components/{component.pk}/").content.decode()
    edit = alice_client.get(f"/components/{component.pk}/edit").content.decode()
    assert TOKEN not in detail and TOKEN not in edit and "A value is stored" in edit


@pytest.mark.parametrize(
    ("override", "field", "message"),
    [
        ({"config-port": "eighty"}, "port", "Enter a whole number."),
        ({"config-host": ""}, "host", "This field is required."),
        ({"config-settings": "{not json"}, "settings", "Enter valid JSON"),
        ({"config-settings": "[1, 2]"}, "settings", "is not of type 'object'"),
        ({"config-mode": "reckless"}, "mode", "Select a valid choice."),
        ({"name": ""}, "name", "This field is required."),
    ],
)
def test_component_form_shows_per_field_errors(alice_client, world, override, field, message):
    response = alice_client.post("/components/new", rich_form(**override))
    assert response.status_code == 422
    form = response.context["config"] if field != "name" else response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    assert "field-error" in response.content.decode()
    assert not StackComponent.objects.filter(name="rich-one").exists()


def test_a_taken_name_is_a_form_error(alice_client, world):
    response = alice_client.post("/components/new", rich_form(name="orch"))
    assert response.status_code == 422
    assert "already exists" in str(response.context["form"].errors)
    store = world["store"]
    StackComponent.objects.create(name="store-2", type="artifact_store", flavor_name="local", tenant=store.tenant)
    response = alice_client.post(f"/components/{store.pk}/edit", {"name": "store-2"})
    assert response.status_code == 422 and "already exists" in str(response.context["form"].errors)
    assert response.context["component"].name == "store"
    store.refresh_from_db()
    assert store.name == "store"


def test_sensitive_fields_accept_secret_references_and_keep_stored_values(alice_client, world):
    alice_client.post("/components/new", rich_form(**{"config-api_token": "{{vault.token}}"}))
    component = StackComponent.objects.get(name="rich-one")
    assert component.configuration["api_token"] == "{{vault.token}}"
    assert 'value="{{vault.token}}"' in alice_client.get(f"/components/{component.pk}/edit").content.decode()
    StackComponent.objects.filter(pk=component.pk).update(configuration={**component.configuration, "api_token": TOKEN})
    response = alice_client.post(
        f"/components/{component.pk}/edit", rich_form(name="renamed", **{"config-api_token": "", "config-port": ""})
    )
    assert response.status_code == 302
    component.refresh_from_db()
    assert component.name == "renamed" and component.configuration["api_token"] == TOKEN
    assert "port" not in component.configuration
    event = AuditEvent.objects.get(action="update", resource_id=str(component.pk))
    assert event.changes["name"] == ["rich-one", "renamed"] and TOKEN not in json.dumps(event.changes)


def test_a_component_in_a_stack_is_not_deleted(alice_client, world):
    orchestrator = world["orchestrator"]
    response = alice_client.post(f"/components/{orchestrator.pk}/delete")
    assert response.status_code == 409 and "is part of the stacks prod" in response.content.decode()
    assert StackComponent.objects.filter(pk=orchestrator.pk).exists()
    spare = StackComponent.objects.create(
        name="spare", type="orchestrator", flavor_name="local", tenant=orchestrator.tenant, user=orchestrator.user
    )
    assert alice_client.post(f"/components/{spare.pk}/delete")["Location"] == "/components/"
    assert not StackComponent.objects.filter(pk=spare.pk).exists()
    assert AuditEvent.objects.filter(action="delete", resource_id=str(spare.pk), via="dashboard").exists()


# --- stacks -----------------------------------------------------------------------------------


def test_stack_pages_render_with_bounded_queries(alice_client, world, django_assert_max_num_queries):
    stack = world["stack"]
    for number in range(12):
        extra = StackComponent.objects.create(
            name=f"extra-{number}", type="artifact_store", flavor_name="local", tenant=stack.tenant
        )
        Stack.objects.create(name=f"stack-{number}", tenant=stack.tenant).components.set([extra])
    for url in ("/stacks/", f"/stacks/{stack.pk}/", "/stacks/new", f"/stacks/{stack.pk}/edit"):
        with django_assert_max_num_queries(14):
            response = alice_client.get(url)
        assert response.status_code == 200, url
    detail = alice_client.get(f"/stacks/{stack.pk}/").content.decode()
    assert "Edit</a>" in detail and "Delete stack</button>" in detail


def test_create_edit_and_delete_a_stack(alice_client, world):
    orchestrator, store = world["orchestrator"], world["store"]
    missing = alice_client.post("/stacks/new", {"name": "dev", "component_orchestrator": str(orchestrator.pk)})
    assert missing.status_code == 422 and "component_artifact_store" in missing.context["form"].errors
    response = alice_client.post(
        "/stacks/new",
        {"name": "dev", "component_orchestrator": str(orchestrator.pk), "component_artifact_store": str(store.pk)},
    )
    stack = Stack.objects.get(name="dev")
    assert response["Location"] == f"/stacks/{stack.pk}/"
    assert set(stack.components.all()) == {orchestrator, store}
    rich = StackComponent.objects.create(
        name="other-orch", type="orchestrator", flavor_name="local", tenant=stack.tenant, user=stack.user
    )
    response = alice_client.post(
        f"/stacks/{stack.pk}/edit",
        {
            "name": "staging",
            "description": "d",
            "component_orchestrator": str(rich.pk),
            "component_artifact_store": str(store.pk),
        },
    )
    assert response.status_code == 302
    stack.refresh_from_db()
    assert stack.name == "staging" and set(stack.components.all()) == {rich, store}
    assert alice_client.post(f"/stacks/{stack.pk}/delete")["Location"] == "/stacks/"
    assert not Stack.objects.filter(pk=stack.pk).exists()
    assert {"create", "update", "delete"} <= set(
        AuditEvent.objects.filter(resource_id=str(stack.pk), via="dashboard").values_list("action", flat=True)
    )


def test_the_default_stack_is_not_renamed_or_deleted(alice_client, world):
    default = Stack.objects.create(name="default", tenant=world["stack"].tenant)
    default.components.set([world["orchestrator"], world["store"]])
    page = alice_client.get(f"/stacks/{default.pk}/").content.decode()
    assert "cannot be renamed or deleted" in page and "Delete stack</button>" not in page
    response = alice_client.post(f"/stacks/{default.pk}/delete")
    assert response.status_code == 409 and "The default stack cannot be deleted." in response.content.decode()
    alice_client.post(
        f"/stacks/{default.pk}/edit",
        {
            "name": "renamed",
            "component_orchestrator": str(world["orchestrator"].pk),
            "component_artifact_store": str(world["store"].pk),
        },
    )
    assert Stack.objects.filter(pk=default.pk, name="default").exists()


# --- permissions, tenants, escaping -----------------------------------------------------------


def test_a_viewer_sees_no_buttons_and_may_not_post(viewer_client, world):
    stack, orchestrator = world["stack"], world["orchestrator"]
    for url in ("/stacks/", f"/stacks/{stack.pk}/", "/components/", f"/components/{orchestrator.pk}/"):
        page = viewer_client.get(url).content.decode()
        assert "New stack" not in page and "New component" not in page and "Delete…" not in page, url
        assert "/edit" not in page, url
    posts = [
        ("/components/new", rich_form()),
        (f"/components/{orchestrator.pk}/edit", rich_form()),
        (f"/components/{orchestrator.pk}/delete", {}),
        ("/stacks/new", {"name": "x"}),
        (f"/stacks/{stack.pk}/edit", {"name": "x"}),
        (f"/stacks/{stack.pk}/delete", {}),
    ]
    for url, data in posts:
        assert viewer_client.post(url, data).status_code == 403, url
    assert viewer_client.get("/components/new").status_code == 403
    assert AuditEvent.objects.filter(action="permission_denied").count() >= len(posts)
    assert Stack.objects.filter(pk=stack.pk, name="prod").exists() and StackComponent.objects.count() == 2


def test_other_tenants_ids_are_not_found(client, world, charlie):
    client.force_login(charlie)
    stack, orchestrator = world["stack"], world["orchestrator"]
    for url in (f"/components/{orchestrator.pk}/", f"/components/{orchestrator.pk}/edit", f"/stacks/{stack.pk}/edit"):
        assert client.get(f"/t/beta{url}").status_code == 404, url
    for url in (f"/components/{orchestrator.pk}/delete", f"/stacks/{stack.pk}/delete", f"/stacks/{stack.pk}/edit"):
        assert client.post(f"/t/beta{url}", {"name": "stolen"}).status_code == 404, url
    assert str(orchestrator.pk) not in client.get("/t/beta/components/").content.decode()
    assert Stack.objects.filter(pk=stack.pk, name="prod").exists()


def test_names_and_configuration_are_escaped(alice_client, world):
    response = alice_client.post(
        "/components/new", rich_form(name=XSS, **{"config-host": XSS, "config-settings": json.dumps({"x": XSS})})
    )
    component = StackComponent.objects.get(name=XSS)
    assert response.status_code == 302
    world["stack"].components.add(component)
    for url in ("/components/", f"/components/{component.pk}/", f"/components/{component.pk}/edit", "/stacks/"):
        page = alice_client.get(url).content.decode()
        assert XSS not in page and "&lt;script&gt;" in page, url


def test_the_connector_choice_fits_the_flavor(alice_client, world, tenant_a, alice):
    from secrets_app.models import ServiceConnector

    owned = {"tenant": tenant_a, "user": alice}
    Flavor.objects.create(name="s3", type="artifact_store", source="x.S3", connector_type="aws", **owned)
    aws = ServiceConnector.objects.create(name="aws-one", connector_type="aws", auth_method="secret-key", **owned)
    ServiceConnector.objects.create(name="generic-one", connector_type="generic", auth_method="secrets", **owned)
    page = alice_client.get("/components/new?type=artifact_store&flavor=s3").content.decode()
    assert "aws-one" in page and "generic-one" not in page
    assert 'name="connector"' not in alice_client.get("/components/new?type=orchestrator&flavor=rich").content.decode()
    data = {"type": "artifact_store", "flavor": "s3", "name": "bucket", "connector": str(aws.pk)}
    assert alice_client.post("/components/new", {**data, "connector_resource_id": "s3://b"}).status_code == 302
    component = StackComponent.objects.get(name="bucket")
    assert component.connector == aws and component.connector_resource_id == "s3://b"


def test_a_connector_the_user_may_not_read_is_not_named(client, world, tenant_a, alice):
    """As the API's `permission_denied` envelope: the component shows, its connector's name not."""
    from secrets_app.models import ServiceConnector
    from tenants import access

    secret_name = "prod-admin-connector"
    connector = ServiceConnector.objects.create(
        name=secret_name, connector_type="aws", auth_method="secret-key", tenant=tenant_a, user=alice
    )
    StackComponent.objects.filter(pk=world["store"].pk).update(connector=connector)
    role = access.create_role(
        tenant_a.organization, name="No connectors", base="tenant-viewer", remove=["service_connector:read"]
    )
    client.force_login(make_user("nina", tenant_a, role=role.slug))
    for url in ("/components/", f"/stacks/{world['stack'].pk}/"):
        page = client.get(url)
        assert page.status_code == 200 and "store" in page.content.decode(), url
        assert secret_name not in page.content.decode(), url
    client.force_login(alice)
    assert secret_name in client.get("/components/").content.decode()
