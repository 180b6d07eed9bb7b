"""In-process benchmark of MLMeta's hot pages and API lists at a given number of runs.

    .venv/bin/python bench/run.py --runs 1000            # SQLite file under var/bench/
    DATABASE_URL=postgres://... .venv/bin/python bench/run.py --runs 100000

Seeds a `bench` tenant with `seed_demo` up to --runs runs (kept between invocations, so a
second call only measures), then times each request through Django's test client (server
time without the network) and prints median and p90 latency and SQL queries per request.
Results are also written as JSON under bench/results/. The side-by-side comparison with the
real ZenML server over HTTP is a separate, later benchmark.
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure(args) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not os.environ.get("DATABASE_URL"):
        bench_dir = ROOT / "var" / "bench"
        bench_dir.mkdir(parents=True, exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{bench_dir / 'bench.sqlite3'}"
    import django

    django.setup()


def prepare(runs: int):
    from django.core.management import call_command

    from mlmeta.models import PipelineRun
    from tenants import access
    from tenants.models import Tenant, User
    from tenants.services import create_tenant

    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.filter(slug="bench").first() or create_tenant("bench", name="Bench")
    user, _ = User.objects.get_or_create(username="bench-user", defaults={"is_superuser": False})
    access.assign_role("tenant-developer", user=user, tenant=tenant)
    missing = runs - PipelineRun.objects.filter(tenant=tenant).count()
    if missing > 0:
        print(f"seeding {missing} runs into tenant 'bench' ...", flush=True)
        call_command("seed_demo", tenant="bench", runs=missing, verbosity=0)
    return tenant, user


def requests_to_time(tenant):
    from mlmeta.models import PipelineRun
    from tenants.models import Project

    project = Project.objects.get(tenant=tenant, name="default").pk
    run = PipelineRun.objects.filter(tenant=tenant).order_by("-created").first()
    common = f"logical_operator=and&project={project}"
    prefix = f"/t/{tenant.slug}"
    return {
        "api runs page 20": f"{prefix}/api/v1/runs?hydrate=False&sort_by=desc:created&page=1&size=20&{common}",
        "api runs page 100": f"{prefix}/api/v1/runs?hydrate=False&sort_by=desc:created&page=1&size=100&{common}",
        "api runs page 20 hydrated": f"{prefix}/api/v1/runs?hydrate=True&sort_by=desc:created&page=1&size=20&{common}",
        "api run detail": f"{prefix}/api/v1/runs/{run.pk}?hydrate=True&include_full_metadata=False",
        "api steps of a run": f"{prefix}/api/v1/steps?hydrate=False&sort_by=created&page=1&size=20&{common}"
        f"&pipeline_run_id={run.pk}&exclude_retried=True",
        "api pipelines": f"{prefix}/api/v1/pipelines?hydrate=False&sort_by=desc:created&page=1&size=20&{common}",
        "api artifact versions": f"{prefix}/api/v1/artifact_versions?hydrate=False&sort_by=created&page=1&size=20"
        f"&{common}",
        "dashboard home": f"{prefix}/",
        "dashboard runs filtered": f"{prefix}/runs/?status=completed&sort=-duration",
        "dashboard runs page 5": f"{prefix}/runs/?page=5",
        "dashboard run page": f"{prefix}/runs/{run.pk}/",
        "dashboard pipelines": f"{prefix}/pipelines/",
        "dashboard pipeline page": f"{prefix}/pipelines/{run.pipeline_id}/",
        "dashboard step page": f"{prefix}/steps/{run.steps.order_by('created').values_list('pk', flat=True).first()}/",
        "admin runs change list": f"{prefix}/admin/mlmeta/pipelinerun/",
    }


def measure(client, path: str, repeat: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    query_count = len(queries)  # read now: later requests may rotate the query log
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}: {response.content[:300]!r}")
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(path)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return {
        "median_ms": round(statistics.median(timings), 2),
        "p90_ms": round(timings[int(len(timings) * 0.9) - 1], 2),
        "queries": query_count,
        "bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000, help="runs in the bench tenant (default 1000)")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page (default 30)")
    args = parser.parse_args()
    configure(args)

    from django.conf import settings
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections, reset_queries
    from django.test import Client

    from tenants import tokens

    # Keep one connection across requests, as a long-lived server process does.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    request_started.disconnect(reset_queries)  # would empty the query log we count
    tenant, user = prepare(args.runs)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {tokens.issue(user, tenant)}")
    client.force_login(user)
    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"\nMLMeta in-process, {args.runs} runs, {database}, {args.repeat} requests each\n")
    print(f"{'request':32} {'median ms':>10} {'p90 ms':>8} {'queries':>8} {'KB':>7}")
    results = {}
    for name, path in requests_to_time(tenant).items():
        results[name] = figures = measure(client, path, args.repeat)
        print(
            f"{name:32} {figures['median_ms']:10.2f} {figures['p90_ms']:8.2f} {figures['queries']:8d}"
            f" {figures['bytes'] / 1024:7.1f}"
        )
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = out_dir / f"inprocess-{database}-{args.runs}-{stamp}.json"
    out.write_text(json.dumps({"runs": args.runs, "database": database, "results": results}, indent=1))
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
