"""CPU, wall time and SQL queries of single /api/v1 requests, in process (Django's test client).

    DATABASE_URL=postgres://... .venv/bin/python bench/request_cost.py --repeat 200

Uses bench/run.py's `bench` tenant (seeded with `seed_demo`, 1,000 runs by default) and a
user's JWT. Times the floor of the stack (`/api/v1/info`), the pipelines, steps-of-a-run and
artifact-versions lists with the client's query strings, and the client's two hot writes
(`POST /steps` into a fresh run, `POST /artifact_versions/batch` with one item), interleaved so
load on a shared machine hits every variant alike. Prints median wall and thread-CPU ms, the
queries and a hash of each GET's body (to check a change leaves the bytes alone); `--sql NAME`
lists the statements of one variant; `--profile NAME` prints a cProfile of it.
"""

import argparse
import hashlib
import json
import os
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import configure, prepare  # noqa: E402

# What differs between two identical writes: ids, times, random hex (cache keys, content hashes).
VOLATILE = re.compile(
    rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{4}-\d\d-\d\dT[\d:.]+|[0-9a-f]{8,32}|\d+(_\d+){2,3}"
)


def digest(name: str, body: bytes) -> str:
    """The body's hash; for writes, of the body with its volatile parts blanked."""
    return hashlib.sha256(body if not name.endswith("create") else VOLATILE.sub(b"#", body)).hexdigest()[:16]


def world(tenant):
    from mlmeta.models import ArtifactVersion, PipelineRun
    from tenants.models import Project

    project = Project.objects.get(tenant=tenant, name="default").pk
    run = PipelineRun.objects.filter(tenant=tenant).exclude(name__startswith="cost-").order_by("-created").first()
    store = ArtifactVersion.objects.filter(tenant=tenant).values_list("artifact_store_id", flat=True).first()
    return project, run, store


def clean_up(tenant) -> None:
    """Remove what earlier writes left, so the lists (and their hashes) are the seed's."""
    from mlmeta.models import Artifact, ArtifactVersion, PipelineRun

    PipelineRun.objects.filter(tenant=tenant, name__startswith="cost-").delete()
    ArtifactVersion.objects.filter(tenant=tenant, uri__startswith="/bench/produce/").delete()
    Artifact.objects.filter(tenant=tenant, name="bench_pipeline::produce::output").delete()


def reads(prefix: str, project, run) -> dict:
    common = f"logical_operator=and&project={project}"
    runs = f"{prefix}/runs?hydrate=False&include_full_metadata=False&sort_by=desc:created&{common}&page=1"
    return {
        "info": f"{prefix}/info",
        "runs page 20": f"{runs}&size=20",
        "runs page 100": f"{runs}&size=100",
        "runs page 20 hydrated": f"{runs}&size=20".replace("hydrate=False", "hydrate=True"),
        "run detail": f"{prefix}/runs/{run.pk}?hydrate=True&include_full_metadata=False",
        "pipelines": f"{prefix}/pipelines?hydrate=False&sort_by=desc:created&{common}&page=1&size=20",
        "steps of a run": f"{prefix}/steps?hydrate=False&sort_by=created&page=1&size=20&{common}"
        f"&pipeline_run_id={run.pk}&exclude_retried=True",
        "artifact versions": f"{prefix}/artifact_versions?hydrate=False&sort_by=created&page=1&size=20&{common}",
    }


def step_body(project, run_id, name: str = "produce") -> dict:
    return {
        "project": str(project),
        "name": name,
        "start_time": datetime.now(UTC).replace(tzinfo=None).isoformat(),
        "end_time": None,
        "status": "running",
        "cache_key": uuid.uuid4().hex,
        "cache_expires_at": None,
        "code_hash": None,
        "docstring": None,
        "source_code": f"@step\ndef {name}(...):\n    ...\n",
        "pipeline_run_id": str(run_id),
        "original_step_run_id": None,
        "parent_step_ids": [],
        "inputs": {},
        "outputs": {},
        "logs": None,
        "exception_info": None,
        "dynamic_config": None,
        "resource_requester": None,
        "resource_request_runtime": None,
    }


def artifact_item(project, store, step_id) -> dict:
    uri = f"/bench/produce/{step_id}/{uuid.uuid4().hex[:8]}"
    return {
        "project": str(project),
        "artifact_id": None,
        "artifact_name": "bench_pipeline::produce::output",
        "version": None,
        "has_custom_name": False,
        "type": "BaseArtifact",
        "artifact_store_id": str(store),
        "uri": uri,
        "materializer": {
            "module": "zenml.materializers.built_in_materializer",
            "attribute": "BuiltInContainerMaterializer",
            "type": "internal",
        },
        "data_type": {"module": "builtins", "attribute": "list", "type": "builtin"},
        "content_hash": uuid.uuid4().hex,
        "tags": [],
        "visualizations": [{"type": "json", "uri": f"{uri}/data.json"}],
        "save_type": "step_output",
        "metadata": {"storage_size": 15, "length": 5},
        "item_count": 5,
    }


class Writes:
    """A fresh run per step create (the client makes one step per name and run), not timed."""

    def __init__(self, client, prefix, project, run, store):
        self.client, self.prefix, self.project, self.store = client, prefix, project, store
        self.snapshot = str(run.snapshot_id)
        self.step_id = None

    def post(self, path, body):
        return self.client.post(f"{self.prefix}{path}", json.dumps(body), content_type="application/json")

    def fresh_run(self) -> str:
        body = {"project": str(self.project), "name": f"cost-{uuid.uuid4().hex}", "snapshot": self.snapshot}
        body.update(status="running", start_time=datetime.now(UTC).replace(tzinfo=None).isoformat())
        response = self.post("/runs", body)
        assert response.status_code == 200, response.content[:300]
        created = response.json()
        return (created[0] if isinstance(created, list) else created)["id"]

    def step_create(self):
        run_id = self.fresh_run()
        return lambda: self.post("/steps", step_body(self.project, run_id))

    def artifact_batch(self):
        run_id = self.fresh_run()
        step_id = self.post("/steps", step_body(self.project, run_id)).json()["id"]
        return lambda: self.post("/artifact_versions/batch", [artifact_item(self.project, self.store, step_id)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=200, help="timed GETs per variant (writes: a fifth)")
    parser.add_argument("--sql", help="print the SQL of this variant")
    parser.add_argument("--profile", help="cProfile this variant (sorted by cumulative time)")
    parser.add_argument("--only", help="comma-separated variants to time")
    args = parser.parse_args()
    configure(args)
    from django.conf import settings
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections, connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tenants import tokens

    settings.ALLOWED_HOSTS = ["*"]
    request_started.disconnect(close_old_connections)  # one kept connection, as a server process
    request_finished.disconnect(close_old_connections)
    request_started.disconnect(reset_queries)
    tenant, user = prepare(args.runs)
    clean_up(tenant)
    project, run, store = world(tenant)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {tokens.issue(user, tenant)}")
    prefix = f"/t/{tenant.slug}/api/v1"
    writes = Writes(client, prefix, project, run, store)
    variants = {name: (lambda path=path: client.get(path)) for name, path in reads(prefix, project, run).items()}
    makers = {"step create": writes.step_create, "artifact batch create": writes.artifact_batch}
    wanted = set(args.only.split(",")) if args.only else None

    def chosen(name):
        return wanted is None or name in wanted

    queries, digests = {}, {}
    for name, call in [*variants.items(), *((n, None) for n in makers)]:
        if not chosen(name):
            continue
        call = call or makers[name]()
        call()
        call = call if name in variants else makers[name]()
        with CaptureQueriesContext(connection) as ctx:
            response = call()
        assert response.status_code == 200, (name, response.status_code, response.content[:300])
        queries[name] = [q["sql"] for q in ctx.captured_queries]
        digests[name] = digest(name, response.content)
    if args.sql:
        for sql in queries[args.sql]:
            print(sql if os.environ.get("FULL_SQL") else sql[:400], "\n")
    if args.profile:
        import cProfile
        import pstats

        calls = (
            [variants[args.profile]] * 50 if args.profile in variants else [makers[args.profile]() for _ in range(20)]
        )
        profiler = cProfile.Profile()
        profiler.enable()
        for call in calls:
            call()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
        clean_up(tenant)
        return
    wall = {n: [] for n in queries}
    cpu = {n: [] for n in queries}
    for i in range(args.repeat):
        for name in queries:
            if name in makers and i % 5:
                continue
            call = variants.get(name) or makers[name]()
            w, c = time.perf_counter(), time.thread_time()
            call()
            cpu[name].append((time.thread_time() - c) * 1000)
            wall[name].append((time.perf_counter() - w) * 1000)
    clean_up(tenant)
    print(f"{connection.vendor}, {args.runs} runs, {args.repeat} GETs per variant, load {os.getloadavg()[0]:.1f}")
    print(f"{'variant':24} {'wall ms':>8} {'cpu ms':>7} {'queries':>7}  body sha256")
    for name in queries:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"{name:24} {w:8.2f} {c:7.2f} {len(queries[name]):7d}  {digests.get(name, '')}")


if __name__ == "__main__":
    main()
