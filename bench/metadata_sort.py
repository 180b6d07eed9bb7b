"""Sorting and filtering runs by a run-metadata value at 1,000 and 100,000 runs, in process.

    .venv/bin/python bench/metadata_sort.py --prepare                 # SQLite file under var/bench/
    DATABASE_URL=postgres://... .venv/bin/python bench/metadata_sort.py --prepare --repeat 20
    DATABASE_URL=postgres://... .venv/bin/python bench/metadata_sort.py --explain

`--prepare` seeds the tenants `meta1k` and `meta100k` with `seed_demo` up to 1,000 and 100,000
runs (every completed training run logs `accuracy`, every run a string `branch`). Each request
is a Django test-client GET with a tenant member's JWT, the variants interleaved so load on a
shared machine hits them alike; prints the median wall ms per request of each (tenant, query).
`--explain` prints PostgreSQL's EXPLAIN ANALYZE of every SQL query the 100,000-run requests run.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TENANTS = {"meta1k": 1_000, "meta100k": 100_000}
QUERIES = {
    "plain list (reference)": "size=20",
    "sort desc by accuracy": "sort_by=desc:run_metadata:accuracy&size=20",
    "filter accuracy > 0.9": "run_metadata=accuracy:gt:0.9&size=20",
    "filter branch == main": "run_metadata=branch:main&size=20",
    "filter + sort": "run_metadata=branch:main&sort_by=desc:run_metadata:accuracy&size=20",
    "sort, page 20": "sort_by=desc:run_metadata:accuracy&size=20&page=20",
}


def configure() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not os.environ.get("DATABASE_URL"):
        bench_dir = ROOT / "var" / "bench"
        bench_dir.mkdir(parents=True, exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{bench_dir / 'metadata.sqlite3'}"
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]


def prepare() -> None:
    from django.core.management import call_command

    from mlmeta.models import PipelineRun
    from tenants.models import Tenant
    from tenants.services import create_tenant

    call_command("migrate", verbosity=0)
    for slug, runs in TENANTS.items():
        tenant = Tenant.objects.filter(slug=slug).first() or create_tenant(slug, name=slug)
        missing = runs - PipelineRun.objects.filter(tenant=tenant).count()
        if missing > 0:
            call_command("seed_demo", tenant=slug, runs=missing, seed=8, batch_size=5000, verbosity=1)


def clients() -> dict:
    from django.test import Client

    from tenants import access, tokens
    from tenants.models import Project, Tenant, User

    found = {}
    for slug in TENANTS:
        tenant = Tenant.objects.get(slug=slug)
        user, _ = User.objects.get_or_create(username=f"{slug}-reader")
        access.assign_role("tenant-developer", user=user, tenant=tenant)
        project = Project.objects.get(tenant=tenant, name="default")
        client = Client(HTTP_AUTHORIZATION=f"Bearer {tokens.issue(user, tenant)}")
        prefix = "" if tenant.is_default else f"/t/{slug}"
        found[slug] = (client, f"{prefix}/api/v1/runs?project={project.pk}&")
    return found


def measure(repeat: int) -> None:
    targets = clients()
    times = {(slug, name): [] for slug in TENANTS for name in QUERIES}
    for _ in range(repeat):
        for slug, (client, base) in targets.items():
            for name, query in QUERIES.items():
                started = time.perf_counter()
                response = client.get(base + query)
                times[slug, name].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.content[:300]
    print(f"load average {os.getloadavg()[0]:.1f}; median of {repeat}, ms")
    print(f"| query | {' | '.join(TENANTS)} | ratio |")
    for name, query in QUERIES.items():
        small, big = (statistics.median(times[slug, name]) for slug in TENANTS)
        print(f"| {name} (`{query}`) | {small:.1f} | {big:.1f} | {big / small:.2f} |")


def explain() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client, base = clients()["meta100k"]
    for name, query in QUERIES.items():
        with CaptureQueriesContext(connection) as captured:
            client.get(base + query)
        print(f"\n===== {name}: {query}")
        with connection.cursor() as cursor:
            for sql in captured.captured_queries:
                if "mlmeta_runmetadata" not in sql["sql"]:
                    continue
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING ON, SUMMARY ON) " + sql["sql"])
                print(sql["sql"][:400], "\n  " + "\n  ".join(row[0] for row in cursor.fetchall()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prepare", action="store_true", help="Seed the tenants first.")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the 100,000-run queries (PostgreSQL).")
    args = parser.parse_args()
    configure()
    if args.prepare:
        prepare()
    if args.explain:
        explain()
    else:
        measure(args.repeat)


if __name__ == "__main__":
    main()
