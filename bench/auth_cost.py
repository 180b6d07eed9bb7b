"""What authentication costs per request, in process (Django's test client, no network).

    .venv/bin/python bench/auth_cost.py                       # SQLite file under var/bench/
    DATABASE_URL=postgres://... .venv/bin/python bench/auth_cost.py --repeat 300

Times the same cheap endpoints anonymous and authenticated, interleaved so that load on a shared
machine hits every variant alike, and lists the SQL queries each variant runs. Variants:
`/api/v1/info` anonymous and with a user's JWT (authentication runs, no permission check);
`/api/v1/current-user` with a user's JWT and with the JWT the ZenML client gets for a
`ZENKEY_` API key (adds the key check); the control plane's `/api/control/v1/roles/` with the
`ZENKEY_` key sent as it is. Prints median wall and thread-CPU ms per request and the queries.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not os.environ.get("DATABASE_URL"):
        bench_dir = ROOT / "var" / "bench"
        bench_dir.mkdir(parents=True, exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{bench_dir / 'auth.sqlite3'}"
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]


def prepare():
    from django.core.management import call_command

    from tenants import access, tokens
    from tenants.models import APIKey, Tenant, User
    from tenants.services import create_tenant

    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.filter(slug="authbench").first() or create_tenant("authbench", name="Auth bench")
    user, _ = User.objects.get_or_create(username="authbench-user")
    access.assign_role("tenant-developer", user=user, tenant=tenant)
    robot = User.objects.filter(username="authbench-robot").first() or access.create_service_account(
        tenant.organization, "authbench-robot"
    )
    access.assign_role("tenant-developer", user=robot, tenant=tenant)
    APIKey.objects.filter(service_account=robot).delete()
    key, plaintext = access.issue_api_key(robot, "bench")
    key_jwt = tokens.issue(robot, tenant, api_key_id=key.pk, key_gen=key.generation)
    return tenant, tokens.issue(user, tenant), key_jwt, plaintext


def auth_path(tenant, tokens: dict, repeat: int) -> dict:
    """Median wall/CPU ms and queries of what an /api/v1 request spends on authentication:
    JWT decode, the user (and key) check, the grants behind the tenant-membership check."""
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext
    from rest_framework.request import Request

    from tenants.authentication import JWTAuthentication
    from tenants.permissions import IsTenantMember

    factory, figures = RequestFactory(), {}
    for name, token in tokens.items():
        wall, cpu = [], []
        for i in range(repeat + 1):
            django_request = factory.get("/api/v1/current-user", HTTP_AUTHORIZATION=f"Bearer {token}")
            django_request.tenant = tenant
            request = Request(django_request, authenticators=[JWTAuthentication()])
            with CaptureQueriesContext(connection) as ctx:
                w, c = time.perf_counter(), time.thread_time()
                assert IsTenantMember().has_permission(request, None)
                c, w = time.thread_time() - c, time.perf_counter() - w
            if i:  # the first is a warm-up
                wall.append(w * 1000)
                cpu.append(c * 1000)
        figures[name] = (statistics.median(wall), statistics.median(cpu), len(ctx.captured_queries))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    configure()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    tenant, user_jwt, key_jwt, zenkey = prepare()
    api = f"/t/{tenant.slug}/api/v1"
    variants = {
        "info, anonymous": (f"{api}/info", None),
        "info, user JWT": (f"{api}/info", user_jwt),
        "current-user, user JWT": (f"{api}/current-user", user_jwt),
        "current-user, API-key JWT": (f"{api}/current-user", key_jwt),
        "control roles, ZENKEY bearer": ("/api/control/v1/roles/", zenkey),
    }
    clients = {
        name: Client(**({"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}))
        for name, (_, token) in variants.items()
    }
    queries, wall, cpu = {}, {n: [] for n in variants}, {n: [] for n in variants}
    for name, (path, _) in variants.items():
        clients[name].get(path)  # warm up
        with CaptureQueriesContext(connection) as ctx:
            response = clients[name].get(path)
        assert response.status_code == 200, (name, response.status_code, response.content[:200])
        queries[name] = [q["sql"] for q in ctx.captured_queries]
    for _ in range(args.repeat):
        for name, (path, _) in variants.items():
            w, c = time.perf_counter(), time.thread_time()
            clients[name].get(path)
            cpu[name].append((time.thread_time() - c) * 1000)
            wall[name].append((time.perf_counter() - w) * 1000)
    path_figures = auth_path(tenant, {"user JWT": user_jwt, "API-key JWT": key_jwt}, args.repeat)
    print(f"{connection.vendor}, {args.repeat} requests per variant, load average {os.getloadavg()[0]:.1f}")
    base_wall, base_cpu = statistics.median(wall["info, anonymous"]), statistics.median(cpu["info, anonymous"])
    print(f"{'variant':32} {'wall ms':>8} {'+wall':>6} {'cpu ms':>7} {'+cpu':>6} queries")
    for name in variants:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"{name:32} {w:8.2f} {w - base_wall:+6.2f} {c:7.2f} {c - base_cpu:+6.2f} {len(queries[name])}")
    print("\nthe /api/v1 authentication path alone (JWTAuthentication + IsTenantMember), per request:")
    for name, (w, c, n) in path_figures.items():
        print(f"  {name:14} wall {w:.3f} ms, cpu {c:.3f} ms, {n} queries")
    for name, sqls in queries.items():
        print(f"\n{name}:")
        for sql in sqls:
            print("   ", sql[:150])


if __name__ == "__main__":
    main()
