"""The permission matrix of the control-plane API (/api/control/v1), generated from the URL
resolver: every route, run as each persona, with what each must get. The companion of
tests/tenants/test_permission_matrix.py (/api/v1).

The world is organization O ("acme") with tenants alpha and beta; O's rows (tests/api_world.py
`build_control_world`) live at O's level or in beta (`SCOPES`). Personas:

- olga, org-admin of O (session): allowed, 2xx;
- vera, org-viewer of O (session), and robo, a service account of O holding org-viewer that signs
  in with `Authorization: Bearer ZENKEY_...`: what org-viewer's permissions allow;
- tina, tenant-admin of beta, and tess, tenant-admin of alpha: a tenant role applies in its tenant
  only (tenants/rbac.py), never at O's level, so tina may what tenant-admin allows on beta's rows
  (beta itself, its members, its service account and that account's keys) and nothing else, tess
  nothing on O's rows; as members of O both read O and its roles;
- nobody, without any role: reads 404 or lists without O's ids, writes refused;
- pavel, org-admin of another organization P: the same, no id of O in any answer.

Each expectation is derived from the persona's role permissions in tenants/roles.py at the scope
of the row a route acts on (`NEEDS` names the permission each route needs, `SCOPES` where the
row is). A route this module does not classify fails
`test_every_route_is_classified`; refused writes must change no row (every table but the audit
log is compared before and after).
"""

import json
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from core.api.routes import api_routes
from tenants import access
from tenants.models import AuditEvent, Organization, User
from tenants.roles import BUILTIN_ROLES
from tests.api_world import build_control_world, fill, fingerprint, member

PREFIX = "/api/control/v1/"
READ, WRITE = "read", "write"

# Routes that are no organization's resources, each with the reason.
EXEMPT = {
    ("GET", "/api/control/v1/schema/"): "the public OpenAPI schema, no data",
    ("GET", "/api/control/v1/docs/"): "the public Swagger UI, no data",
    ("POST", "/api/control/v1/invitations/accept/"): "the invitation's token is the credential: test_control_api.py",
}
CRUD_ACTIONS = {
    "list": (READ, "read"),
    "retrieve": (READ, "read"),
    "create": (WRITE, "create"),
    "update": (WRITE, "update"),
    "partial_update": (WRITE, "update"),
    "destroy": (WRITE, "delete"),
}
# Custom viewset actions: (viewset action, HTTP method) -> (read or write, the RBAC action needed).
CUSTOM_ACTIONS = {
    ("members", "GET"): (READ, "read"),
    ("members", "POST"): (WRITE, "update"),  # overridden per resource in NEEDS
    ("remove_member", "DELETE"): (WRITE, "update"),
    ("rotate", "POST"): (WRITE, "update"),
}
# The resource type each route segment's rows have in tenants/roles.py.
TYPES = {
    "organizations": "organization",
    "tenants": "tenant",
    "teams": "team",
    "roles": "role",
    "role-assignments": "member",
    "invitations": "invitation",
    "service-accounts": "service_account",
    "api-keys": "service_account",  # keys are managed as their account (tenants.access)
    "audit-events": "audit_event",
}
# Where a route needs another permission than `<type of its segment>:<action>`.
NEEDS = {
    ("GET", "/api/control/v1/organizations/{pk}/members/"): "member:read",
    ("GET", "/api/control/v1/tenants/{pk}/members/"): "member:read",
    ("POST", "/api/control/v1/tenants/{pk}/members/"): "member:create",
    ("DELETE", "/api/control/v1/tenants/{pk}/members/{user_id}/"): "member:delete",
    ("POST", "/api/control/v1/api-keys/"): "service_account:update",
}
# Where build_control_world puts each segment's row: O's level, or tenant beta (the service account
# is O's, but RBAC finds it, and its keys, through its membership of beta).
SCOPES = {
    "organizations": "O",
    "tenants": "beta",
    "teams": "O",
    "roles": "O",
    "role-assignments": "O",
    "invitations": "O",
    "service-accounts": "beta",
    "api-keys": "beta",
    "audit-events": "O",
}
# Where a route's row is when its segment does not tell (creates land at O's level).
ROUTE_SCOPES = {
    ("POST", "/api/control/v1/api-keys/"): "beta",  # on the body's service account, a member of beta
    # lists erin, who holds roles at O's level and in beta: a read of either shows her
    ("GET", "/api/control/v1/organizations/{pk}/members/"): "beta",
}
# Types every member of an organization reads (tenants/querysets.py rbac_extra): O and the roles.
MEMBER_READS = ("organization", "role")
# What olga gets where it is not a 2xx, with the reason.
OLGA = {
    ("POST", "/api/control/v1/organizations/"): (403, "only operators create organizations"),
    ("DELETE", "/api/control/v1/organizations/{pk}/"): (400, "O still has tenants"),
}


def control_routes():
    return [r for r in api_routes(PREFIX) if (r.method, r.path) not in EXEMPT]


def route_kind(route) -> tuple[str, str] | None:
    """(read or write, the permission needed) from the viewset's action map, or None."""
    kind = CRUD_ACTIONS.get(route.action) or CUSTOM_ACTIONS.get((route.action, route.method))
    segment = route.path.removeprefix(PREFIX).split("/")[0]
    if kind is None or segment not in TYPES:
        return None
    op, action = kind
    return op, NEEDS.get((route.method, route.path), f"{TYPES[segment]}:{action}")


def test_every_route_is_classified():
    unclassified = [f"{r.method} {r.path}" for r in control_routes() if route_kind(r) is None]
    assert not unclassified, "Control-plane routes without an entry in the matrix:\n" + "\n".join(unclassified)
    known = {(r.method, r.path) for r in api_routes(PREFIX)}
    stale = [key for key in (*EXEMPT, *NEEDS, *OLGA, *ROUTE_SCOPES) if key not in known]
    assert not stale, f"Matrix entries for routes that no longer exist: {stale}"


# --- personas ------------------------------------------------------------------------------------
@dataclass
class Persona:
    name: str
    client: APIClient
    org_perms: frozenset  # what the persona holds on all of O's rows
    beta_perms: frozenset  # what it holds besides on beta's rows
    in_org: bool  # a member of O (reads O and its roles)

    def perms(self, scope: str) -> frozenset:
        return self.org_perms | (self.beta_perms if scope == "beta" else frozenset())


def held(slug: str | None, scope: str) -> tuple[frozenset, frozenset]:
    """(on all of O, on beta) that a builtin role held at `scope` gives: an organization role of
    O applies to all of O's rows; a tenant role only to its own tenant's (beta's, or alpha's, where
    O has no row of the matrix); a role of another organization to none."""
    perms = frozenset(BUILTIN_ROLES[slug][3]) if slug else frozenset()
    return {"O": (perms, frozenset()), "beta": (frozenset(), perms)}.get(scope, (frozenset(), frozenset()))


def session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    client.raise_request_exception = False
    return client


@dataclass
class Matrix:
    ids: dict
    personas: dict
    bodies: dict


@pytest.fixture
def matrix(tenant_a, tenant_b):
    org = tenant_a.organization
    ids = build_control_world(tenant_b)
    olga = member("olga", role="org-admin", organization=org)
    vera = member("vera", role="org-viewer", organization=org)
    tess = member("tess", tenant_a, "tenant-admin")
    tina = member("tina", tenant_b, "tenant-admin")
    nobody = member("nobody")
    other = Organization.objects.create(slug="globex", name="Globex")
    pavel = member("pavel", role="org-admin", organization=other)
    robo = access.create_service_account(org, "robo")
    access.assign_role("org-viewer", user=robo, organization=org)
    _, plaintext = access.issue_api_key(robo, "matrix")
    robo_client = APIClient()
    robo_client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    robo_client.raise_request_exception = False
    personas = {  # olga last: her writes change the world
        "pavel": Persona("pavel", session(pavel), *held("org-admin", "P"), in_org=False),
        "nobody": Persona("nobody", session(nobody), *held(None, ""), in_org=False),
        "tess": Persona("tess", session(tess), *held("tenant-admin", "alpha"), in_org=True),
        "vera": Persona("vera", session(vera), *held("org-viewer", "O"), in_org=True),
        "robo": Persona("robo", robo_client, *held("org-viewer", "O"), in_org=True),
        "tina": Persona("tina", session(tina), *held("tenant-admin", "beta"), in_org=True),
        "olga": Persona("olga", session(olga), *held("org-admin", "O"), in_org=True),
    }
    newcomer = member("newcomer", tenant_b, "tenant-viewer")  # a user of beta, given more roles
    return Matrix(ids=ids, personas=personas, bodies=write_bodies(ids, str(org.pk), str(newcomer.pk)))


def write_bodies(ids, org, newcomer) -> dict:
    """Valid bodies of the write routes (olga's succeed), naming O's rows."""
    base = PREFIX
    return {
        ("POST", f"{base}organizations/"): {"slug": "m-org", "name": "M"},
        ("PATCH", f"{base}organizations/{{pk}}/"): {"description": "m"},
        ("POST", f"{base}tenants/"): {"organization": org, "slug": "mtenant", "name": "M"},
        ("PATCH", f"{base}tenants/{{pk}}/"): {"name": "M"},
        ("POST", f"{base}tenants/{{pk}}/members/"): {"user": newcomer, "role": "tenant-developer"},
        ("POST", f"{base}teams/"): {"organization": org, "name": "m-team"},
        ("PATCH", f"{base}teams/{{pk}}/"): {"description": "m"},
        ("POST", f"{base}teams/{{pk}}/members/"): {"user": ids["service-accounts"]},
        ("POST", f"{base}roles/"): {"organization": org, "name": "M role", "base": "org-viewer"},
        ("PATCH", f"{base}roles/{{pk}}/"): {"description": "m"},
        ("POST", f"{base}role-assignments/"): {"role": "org-viewer", "user": newcomer, "organization": org},
        ("POST", f"{base}invitations/"): {
            "organization": org,
            "email": "m@example.com",
            "roles": [{"role": "org-viewer"}],
        },
        ("POST", f"{base}service-accounts/"): {"organization": org, "name": "m-robot"},
        ("PATCH", f"{base}service-accounts/{{pk}}/"): {"description": "m"},
        ("POST", f"{base}api-keys/"): {"service_account": ids["service-accounts"], "name": "m-key"},
        ("PATCH", f"{base}api-keys/{{pk}}/"): {"description": "m"},
        ("POST", f"{base}api-keys/{{pk}}/rotate/"): {"retain_period_minutes": 0},
    }


# --- checks --------------------------------------------------------------------------------------
def segment_of(route) -> str:
    return route.path.removeprefix(PREFIX).split("/")[0]


def scope_of(route) -> str:
    """Where the row a route reads or changes is: O's level or beta (creates land at O's level)."""
    if (route.method, route.path) in ROUTE_SCOPES:
        return ROUTE_SCOPES[(route.method, route.path)]
    return "O" if route.action == "create" else SCOPES[segment_of(route)]


def path_of(route, ids) -> str:
    return fill(route, {**ids, "user_id": ids["members"]})


def send(persona, route, path, body):
    kwargs = {"format": "json"} if body is not None else {}
    if body is not None:  # names unique to the persona, so that two allowed creates do not clash
        body = json.loads(json.dumps(body).replace('"m-', f'"m{persona.name}-'))
    return getattr(persona.client, route.method.lower())(path, body, **kwargs)


def mentions(response, ids, but="") -> list[str]:
    """Which of `ids` the answer shows, but those of `but` (the caller's own URL and body)."""
    text = response.content.decode(errors="replace")
    return sorted(i for i in ids if i in text and i not in but)


def reads(p, resource_type, scope) -> bool:
    return f"{resource_type}:read" in p.perms(scope) or (p.in_org and resource_type in MEMBER_READS)


def check_read(m, p, route, path, need) -> list[str]:
    """Allowed: 200 (a list shows O's row). Refused: 404 for someone outside O, 403/404 for a
    member; or a list without O's row (outside O: without any id of O)."""
    response = send(p, route, path, None)
    label = f"{p.name}: GET {path}"
    listing = route.action in ("list", "members")  # members: a list under a row
    own_id = m.ids["members" if route.action == "members" else segment_of(route)]
    if reads(p, need.split(":")[0], scope_of(route)):
        if response.status_code != 200:
            return [f"{label}: {response.status_code}, expected 200: {response.content[:200]!r}"]
        return [] if not listing or own_id in response.content.decode() else [f"{label}: O's row is missing"]
    problems = []
    if not p.in_org and (leaked := mentions(response, m.ids.values(), but=path)):
        problems.append(f"{label}: shows O's rows {leaked}")
    if response.status_code in ((403, 404) if p.in_org else (404,)):
        return problems
    if response.status_code != 200 or not listing:
        return [*problems, f"{label}: {response.status_code}, expected a refusal: {response.content[:200]!r}"]
    if p.in_org and own_id in response.content.decode():
        problems.append(f"{label}: shows O's row {own_id}")
    return problems


def check_refused_write(m, p, route, path, body) -> list[str]:
    """403 on a row the persona reads, 404 on one it does not; a create 403, or 400 when its body
    names rows the persona may not read (tenants.control_api.base `find`). Nothing written."""
    before = fingerprint(exclude=(AuditEvent,))
    response = send(p, route, path, body)
    label = f"{p.name}: {route.method} {path}"
    problems = []
    if not route.params:
        allowed = (400, 403)
    elif reads(p, TYPES[segment_of(route)], SCOPES[segment_of(route)]):
        allowed = (400, 403) if body else (403,)
    else:
        allowed = (404,)
    if response.status_code not in allowed:
        problems.append(f"{label}: {response.status_code}, expected one of {allowed}: {response.content[:200]!r}")
    if not p.in_org and (leaked := mentions(response, m.ids.values(), but=path + json.dumps(body))):
        problems.append(f"{label}: the refusal names O's rows {leaked}")
    if fingerprint(exclude=(AuditEvent,)) != before:
        problems.append(f"{label}: refused ({response.status_code}) but the database changed")
    return problems


def check_allowed_write(p, route, path, body, done_by: str | None) -> list[str]:
    """2xx (olga: but where `OLGA` says otherwise); a delete someone allowed did already: 404."""
    response = send(p, route, path, body)
    expected = OLGA.get((route.method, route.path), (None, ""))[0] if p.name == "olga" else None
    if done_by and route.method == "DELETE":
        expected = 404
    ok = response.status_code == expected if expected else 200 <= response.status_code < 300
    if ok:
        return []
    return [
        f"{p.name}: {route.method} {path}: {response.status_code}, expected {expected or '2xx'}: "
        f"{response.content[:300]!r}"
    ]


@pytest.mark.parametrize("route", control_routes(), ids=lambda r: f"{r.method} {r.path}")
def test_control_permission_matrix(matrix, route):
    m = matrix
    kind = route_kind(route)
    assert kind is not None, "unclassified: see test_every_route_is_classified"
    op, need = kind
    path = path_of(route, m.ids)
    body = m.bodies.get((route.method, route.path), {} if route.method in ("POST", "PUT", "PATCH") else None)
    problems, done_by = [], None
    for p in m.personas.values():  # olga last: her writes change the world
        if op == READ:
            problems += check_read(m, p, route, path, need)
        elif need in p.perms(scope_of(route)):
            problems += check_allowed_write(p, route, path, body, done_by)
            done_by = done_by or p.name
        else:
            problems += check_refused_write(m, p, route, path, body)
    assert not problems, "\n".join(problems)


def test_personas_hold_what_their_roles_say(matrix):
    """The expectations come from tenants/roles.py: org-viewer reads O's organization resources
    and writes nothing; a tenant-admin holds nothing at O's level, and in their own tenant
    manages it (but does not delete it), its members and its service accounts."""
    vera, tess, tina = (matrix.personas[name] for name in ("vera", "tess", "tina"))
    assert "team:read" in vera.perms("O") and not any(
        p.endswith((":create", ":update", ":delete")) for p in vera.perms("O")
    )
    assert tess.perms("O") == tess.perms("beta") == tina.perms("O") == frozenset()
    assert {"tenant:update", "member:create", "service_account:update"} <= tina.perms("beta")
    assert "tenant:delete" not in tina.perms("beta")  # deleting a tenant is the organization's
    assert User.objects.get(username="robo").is_service_account


def test_a_new_route_without_coverage_fails(monkeypatch):
    """The classification is read from the URLconf: a route of an unknown segment or action is
    reported, so the matrix cannot silently miss it."""
    route = control_routes()[0]
    unknown = type(route)("POST", f"{PREFIX}webhooks/", "create", route.callback)
    custom = type(route)("POST", f"{PREFIX}teams/{{pk}}/archive/", "archive", route.callback)
    assert route_kind(unknown) is None and route_kind(custom) is None
    assert route_kind(route) is not None
