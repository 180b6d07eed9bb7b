"""Garbage in, a 4xx out: every `/api/v1` route, discovered from the URL resolver, answers bad
query parameters, bodies and ids with a ZenML error body, never a 500, and writes nothing.

Each test walks all routes of one kind and reports every failure at once:
- list routes: GET with invalid paging, sorting, hydration and filter values;
- create routes: POST `{}`, a JSON list, invalid JSON and a huge string field;
- routes with ids: a malformed and an unknown id in each id position, for every method;
- update routes: PUT bodies that are not a JSON object.
"""

import json
import uuid
from functools import cache
from urllib.parse import quote

import pytest
from rest_framework.test import APIClient

from core.api.filters import ZenFilter
from core.api.routes import api_routes
from core.api.validation import SCHEMA_FILE
from tenants import access
from tests.api_world import build_world, fill, fingerprint, is_zenml_error
from tests.conftest import make_tenant
from tests.factories import make_account

GARBAGE_PARAMS = (
    "page=0",
    "size=abc",
    "sort_by=desc:nope",
    "hydrate=maybe",
    "id=notauuid",
    "created=gte:yesterday",
    "name=oneof:notalist",
    "id=regex:6ba8",  # an unknown operator is part of the value, which is then no UUID
)
HUGE = "x" * 1_000_000
PUBLIC = ("/info", "/version", "/login", "/device_authorization", "/activate")


@cache
def openapi() -> dict:
    return json.loads(SCHEMA_FILE.read_text())


def operation(route) -> dict | None:
    """The real server's operation for a route (matched by shape), if it has one."""
    shape = route.path.replace("{", "\0").split("/")
    for path, item in openapi()["paths"].items():
        candidate = path.replace("{", "\0").split("/")
        if len(candidate) == len(shape) and all(
            a == b or (a.startswith("\0") and b.startswith("\0")) for a, b in zip(candidate, shape, strict=True)
        ):
            return item.get(route.method.lower())
    return None


def body_schema(op) -> dict | None:
    content = ((op or {}).get("requestBody") or {}).get("content") or {}
    schema = (content.get("application/json") or {}).get("schema")
    if schema and "$ref" in schema:
        schema = openapi()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


# --- the world the routes act on -----------------------------------------------------------------
@pytest.fixture
def world(db):
    tenant = make_tenant("alpha", is_default=True)
    admin = make_account("alice")
    access.add_member(tenant, admin, "tenant-admin")
    return build_world(tenant, admin)


class Probe:
    """Sends requests and collects what went wrong: a 5xx, a 2xx where a 4xx is due, a body that
    is no ZenML error, or a write by a refused request."""

    def __init__(self, client):
        self.client = client
        self.failures = []

    @property
    def client(self):
        return self._client

    @client.setter
    def client(self, client):
        client.raise_request_exception = False  # a crash is reported as the 500 it is
        self._client = client

    def send(self, method, path, *, body=None, raw=None, query="", expect_4xx=True):
        before = fingerprint()
        kwargs = {"content_type": "application/json"}
        if method == "GET":
            pass  # the test client turns GET data into a query string
        elif raw is not None:
            kwargs["data"] = raw
        elif body is not None:
            kwargs["data"] = json.dumps(body)
        url = f"{path}?{query}" if query else path
        response = getattr(self.client, method.lower())(url, **kwargs)
        label = f"{method} {url[:120]}{' ' + (raw or json.dumps(body))[:40] if raw or body is not None else ''}"
        status = response.status_code
        if status >= 500:
            self.failures.append(f"{label}: {status} {response.content[:200]!r}")
        elif expect_4xx and not 400 <= status < 500:
            self.failures.append(f"{label}: expected a 4xx, got {status}")
        elif 400 <= status < 500:
            if not is_zenml_error(response):
                self.failures.append(f"{label}: {status} without a ZenML error body: {response.content[:200]!r}")
            if fingerprint() != before:
                self.failures.append(f"{label}: {status} but the database changed")
        return response

    def check(self):
        assert not self.failures, f"{len(self.failures)} problems:\n" + "\n".join(self.failures)


def routes(method=None, action=None):
    found = [r for r in api_routes() if (method is None or r.method == method)]
    return [r for r in found if action is None or r.action == action]


# --- the tests ------------------------------------------------------------------------------------
def test_routes_are_discovered_from_the_resolver():
    assert len(routes("GET", "list")) >= 25
    assert any(r.path == "/api/v1/runs/{run_pk}/steps" for r in routes("GET", "list"))
    assert len(routes("POST")) >= 25 and len(routes("PUT")) >= 25


def test_list_routes_refuse_garbage_params(world):
    probe = Probe(world.api)
    for route in routes("GET", "list"):
        path = fill(route, world.ids_by_segment)
        assert world.api.get(path).status_code == 200, path
        filters = route.callback.cls.filterset_class.base_filters
        for query in GARBAGE_PARAMS:
            probe.send("GET", path, query=query, expect_4xx=query.split("=")[0] in filters)
        probe.send("GET", path, query="name=regex:abc", expect_4xx=False)  # equals "regex:abc", as on ZenML
    probe.check()


def test_create_routes_refuse_garbage_bodies(world):
    probe = Probe(world.api)
    for route in routes("POST"):
        op = operation(route)
        schema = body_schema(op)
        creates = op is not None and "Create" in op.get("summary", "") and schema is not None
        path = fill(route, world.ids_by_segment)
        probe.send("POST", path, raw="{not json", expect_4xx=creates)
        probe.send("POST", path, body=[{"name": "x"}], expect_4xx=creates and schema.get("type") != "array")
        probe.send("POST", path, body={}, expect_4xx=creates and bool(schema.get("required")))
        probe.send("POST", path, body={"name": HUGE}, expect_4xx=creates)
    probe.check()


def test_routes_refuse_malformed_and_unknown_ids(world):
    anonymous = APIClient()
    probe = Probe(world.api)
    for route in api_routes():
        for position in range(len(route.params)):
            for bad in ("not-a-uuid", str(uuid.uuid4())):
                path = fill(route, world.ids_by_segment, bad=(position, bad))
                client = anonymous if route.path.endswith(("/data", "/code")) else world.api
                probe.client = client
                probe.send(route.method, path, body={})
    probe.check()


def test_update_routes_refuse_garbage_bodies(world):
    probe = Probe(world.api)
    for route in routes("PUT"):
        if body_schema(operation(route)) is None:
            continue  # no body to be wrong about (heartbeat, deactivate, ...)
        path = fill(route, world.ids_by_segment)
        probe.send("PUT", path, raw="{not json")
        probe.send("PUT", path, body=[1, 2])
        probe.send("PUT", path, body="just a string")
        probe.send("PUT", path, body=5)
    probe.check()


def test_unauthenticated_requests_get_401_not_500(world):
    probe = Probe(APIClient())
    for route in api_routes():
        path = fill(route, world.ids_by_segment)
        response = probe.send(route.method, path, body={}, expect_4xx=False)
        assert response.status_code != 200 or route.path.endswith(PUBLIC), route
    probe.check()


# --- regressions of the 500s these tests and a wider fuzzing found -------------------------------
FILTER_VALUES = ("contains:6b", "startswith:6b", "isempty:", "isnotempty:", "lte:2026-01-01", "oneof:[]", "9" * 25)


def column_path(model, field_name: str) -> tuple:
    """The relations a filter's ORM path crosses and the field it ends on, as types (a name that
    resolves to no field stays itself: an annotation or a computed name is its own kind)."""
    hops, parts = [], field_name.split("__")
    for index, part in enumerate(parts):
        field = next((f for f in model._meta.get_fields() if part in (f.name, getattr(f, "attname", None))), None)
        if field is None:
            return (*hops, f"unresolved:{field_name}")
        if field.is_relation and index < len(parts) - 1:
            hops.append(f"{type(field).__name__}->{field.related_model._meta.label}")
            model = field.related_model
        else:
            return (*hops, type(field).__name__, field.is_relation, part == getattr(field, "attname", None))
    return tuple(hops)


def filter_kind(model, name: str, flt) -> tuple:
    """What decides how a filter treats an operator: the grammar's value kind, whether it is an
    enum, its computed condition (if any), and the column it compares (see column_path). Two
    parameters of one resource with the same kind go through the same code on the same SQL shape."""
    if not isinstance(flt, ZenFilter) or model is None:
        return ("own", name)
    return (flt.kind, bool(flt.choices), flt.q, flt.name_field, column_path(model, flt.field_name))


def test_every_filter_takes_any_operator_without_a_500(world):
    """Text operators on foreign-key ids, `isempty` on computed filters, `created` of users,
    integers beyond 64 bits: each used to raise in the ORM.

    Every operator is tried on every kind of filter of every list route (filter_kind: value kind,
    enum, computed condition, column type and relations); every single parameter refuses a NUL."""
    probe = Probe(world.api)
    probed = set()
    for route in routes("GET", "list"):
        path = fill(route, world.ids_by_segment)
        if path in probed:
            continue  # a second URL pattern of the same view: the same requests again
        probed.add(path)
        model = getattr(route.callback.cls, "model", None)
        kinds = set()
        for name, flt in route.callback.cls.filterset_class.base_filters.items():
            kind = filter_kind(model, name, flt)
            if kind not in kinds:
                kinds.add(kind)
                for value in FILTER_VALUES:
                    probe.send("GET", path, query=f"{name}={quote(value)}", expect_4xx=False)
            probe.send("GET", path, query=f"{name}=x%00y")  # PostgreSQL cannot compare NUL characters
    probe.check()


def test_nul_characters_in_bodies_are_refused(world):
    probe = Probe(world.api)
    probe.send("POST", "/api/v1/tags", body={"name": "bad\x00tag"})
    probe.send("PUT", f"/api/v1/stacks/{world.ids_by_segment['stacks']}", body={"description": "x\x00"})
    probe.send("PUT", "/api/v1/current-user", body={"full_name": "\x00"})
    probe.check()


def test_values_too_long_for_their_column_are_not_a_500(world):
    # PostgreSQL refuses them (422); SQLite stores what it is given.
    probe = Probe(world.api)
    for segment in ("tags", "artifacts", "schedules", "model_versions"):
        path = f"/api/v1/{segment}/{world.ids_by_segment[segment]}"
        probe.send("PUT", path, body={"name": "n" * 300}, expect_4xx=False)
    probe.check()


def test_rotate_with_an_endless_retain_period_is_422(world):
    ids = world.ids_by_segment
    path = f"/api/v1/service_accounts/{ids['service_accounts']}/api_keys/{ids['api_keys']}/rotate"
    probe = Probe(world.api)
    probe.send("PUT", path, body={"retain_period_minutes": 10**20})
    probe.send("PUT", path, body={"retain_period_minutes": -1})
    probe.check()


def test_component_with_an_unknown_connector_is_404(world):
    path = f"/api/v1/components/{world.ids_by_segment['components']}"
    response = Probe(world.api).send("PUT", path, body={"connector": str(uuid.uuid4())})
    assert response.status_code == 404
    assert response.json()["detail"][0] == "KeyError"


def test_oversized_body_is_a_json_413(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    probe = Probe(world.api)
    response = probe.send("POST", "/api/v1/tags", body={"name": "x" * 20_000})
    assert response.status_code == 413
    probe.check()
