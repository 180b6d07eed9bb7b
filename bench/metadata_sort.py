"""Sorting and filtering runs by a run-metadata value at 1,000 and 100,000 runs, in process.

    .venv/bin/python bench/metadata_sort.py --prepare                 # SQLite file under var/bench/
    DATABASE_URL=postgres://... .venv/bin/python bench/metadata_sort.py --prepare --repeat 20
    DATABASE_URL=postgres://... .venv/bin/python bench/metadata_sort.py --explain

`--prepare` seeds the tenants `meta1k` and `meta100k` with `seed_demo` (1,000 runs each; every
completed training run logs `accuracy`, every run a string `branch`), then fills `meta100k` up to
100,000 runs by copying its runs and their run metadata in SQL (new ids and names, `accuracy`
drawn again), which takes seconds where seed_demo takes many minutes on a loaded machine. Each request
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

    from core import statistics
    from mlmeta.models import PipelineRun
    from tenants.models import Tenant
    from tenants.services import create_tenant

    call_command("migrate", verbosity=0)
    for slug, runs in TENANTS.items():
        tenant = Tenant.objects.filter(slug=slug).first() or create_tenant(slug, name=slug)
        seeded = PipelineRun.objects.filter(tenant=tenant).count()
        if seeded < 1000:
            call_command("seed_demo", tenant=slug, runs=1000 - seeded, seed=8, batch_size=5000, verbosity=1)
        fill_by_copy(tenant, runs)
    statistics.refresh()


# SQL per vendor: a series 1..k, a new id, a random accuracy like seed_demo's.
SQL = {
    "postgresql": {
        "series": "SELECT generate_series(1, %s) AS g",
        "new_id": "md5(r.id::text || '-' || s.g)::uuid",
        "random_id": "gen_random_uuid()",
        "accuracy": "to_jsonb(round((0.81 + random() * 0.14)::numeric, 4))",
    },
    "sqlite": {
        "series": "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %s) SELECT g FROM s",
        "new_id": "lower(hex(randomblob(16)))",
        "random_id": "lower(hex(randomblob(16)))",
        "accuracy": "json(round(0.81 + abs(random() % 14000) / 100000.0, 4))",
    },
}


def fill_by_copy(tenant, target: int) -> None:
    """Copy the tenant's runs (and their run metadata) until it has `target` runs."""
    from django.db import connection, transaction

    from mlmeta.models import PipelineRun, RunMetadata

    runs = PipelineRun.objects.filter(tenant=tenant).count()
    if runs >= target:
        return
    sql = SQL[connection.vendor]
    copies = -(-(target - runs) // runs)
    quote = connection.ops.quote_name
    run_columns = [quote(f.column) for f in PipelineRun._meta.concrete_fields if not f.generated]
    meta_columns = [quote(f.column) for f in RunMetadata._meta.concrete_fields if not f.generated]
    run_values = {quote("id"): "m.new", quote("name"): "r.name || '-c' || m.g", quote("index"): "0"}
    meta_values = {
        quote("id"): sql["random_id"],
        quote("resource_id"): "m.new",
        quote("value"): f"CASE WHEN r.key = 'accuracy' THEN {sql['accuracy']} ELSE r.value END",
    }
    tid = tenant.pk.hex if connection.vendor == "sqlite" else str(tenant.pk)
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS copy_map")
        cursor.execute(
            f"CREATE TEMP TABLE copy_map AS SELECT r.id AS old, {sql['new_id']} AS new, s.g AS g "  # noqa: S608
            f"FROM mlmeta_pipelinerun r, ({sql['series'] % copies}) s WHERE r.tenant_id = %s "
            f"ORDER BY s.g, r.created LIMIT %s",
            [tid, target - runs],
        )
        cursor.execute(
            f"INSERT INTO mlmeta_pipelinerun ({', '.join(run_columns)}) SELECT "  # noqa: S608 (model columns)
            + ", ".join(run_values.get(c, f"r.{c}") for c in run_columns)
            + " FROM mlmeta_pipelinerun r JOIN copy_map m ON m.old = r.id"
        )
        cursor.execute(
            f"INSERT INTO mlmeta_runmetadata ({', '.join(meta_columns)}) SELECT "  # noqa: S608 (model columns)
            + ", ".join(meta_values.get(c, f"r.{c}") for c in meta_columns)
            + " FROM mlmeta_runmetadata r JOIN copy_map m ON m.old = r.resource_id "
            "WHERE r.resource_type = 'pipeline_run'"
        )
        cursor.execute("DROP TABLE copy_map")
    print(f"{tenant.slug}: copied {target - runs} runs in {time.monotonic() - started:.1f}s")


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
    cpu = {(slug, name): [] for slug in TENANTS for name in QUERIES}
    for _ in range(repeat):
        for slug, (client, base) in targets.items():
            for name, query in QUERIES.items():
                started, started_cpu = time.perf_counter(), time.thread_time()
                response = client.get(base + query)
                times[slug, name].append((time.perf_counter() - started) * 1000)
                cpu[slug, name].append((time.thread_time() - started_cpu) * 1000)
                assert response.status_code == 200, response.content[:300]
    print(f"load average {os.getloadavg()[0]:.1f}; median of {repeat}, ms: wall (this thread's CPU)")
    print(f"| query | {' | '.join(TENANTS)} | ratio wall (CPU) |")
    for name, query in QUERIES.items():
        small, big = (statistics.median(times[slug, name]) for slug in TENANTS)
        small_cpu, big_cpu = (statistics.median(cpu[slug, name]) for slug in TENANTS)
        print(
            f"| {name} (`{query}`) | {small:.1f} ({small_cpu:.1f}) | {big:.1f} ({big_cpu:.1f}) "
            f"| {big / small:.2f} ({big_cpu / small_cpu:.2f}) |"
        )


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
                if "mlmeta_runmetadata" not in sql["sql"] or sql["sql"].startswith("EXPLAIN"):
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
