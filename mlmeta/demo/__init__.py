"""Demo data for a tenant's default project: realistic pipelines, runs, artifacts and models,
fast enough to generate a benchmark-sized store (`manage.py seed_demo`)."""

import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from mlmeta.demo.fixtures import ensure_fixtures
from mlmeta.demo.runs import RunWriter, plan_runs
from mlmeta.models import PipelineRun

__all__ = ["DemoResult", "seed_demo"]


@dataclass
class DemoResult:
    runs: int
    rows: int


def seed_demo(
    project,
    runs: int,
    *,
    user=None,
    seed: int | None = None,
    days: float = 28,
    batch_size: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> DemoResult:
    """Add `runs` pipeline runs (with steps, artifacts, models, ...) to `project`, spread over the
    past `days`; calls `progress(n)` after each batch of n runs. Re-running appends."""
    # Mixing in the existing run count makes a repeated --seed give new, yet reproducible, data.
    existing = PipelineRun.objects.filter(project=project).count()
    rng = random.Random(f"{seed}:{existing}") if seed is not None else random.Random()
    now = timezone.now()
    fixtures = ensure_fixtures(project, user)
    planned = plan_runs(rng, runs, days, now)
    writer = RunWriter(fixtures, rng, now)
    with _large_sqlite_cache():
        for start in range(0, len(planned), batch_size):
            chunk = planned[start : start + batch_size]
            writer.write(chunk)
            if progress:
                progress(len(chunk))
    writer.finish()
    return DemoResult(runs=len(planned), rows=writer.rows)


@contextlib.contextmanager
def _large_sqlite_cache(megabytes: int = 256) -> Iterator[None]:
    """Random UUID keys spread inserts over every index page; with SQLite's default 2 MB page
    cache a large store is re-read from the file for each batch."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        previous = cursor.execute("PRAGMA cache_size").fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = {-megabytes * 1024}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")
