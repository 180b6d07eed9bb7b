"""Demo data for a tenant's default project: realistic pipelines, runs, artifacts and models,
fast enough to generate a benchmark-sized store (`manage.py seed_demo`)."""

import random
from collections.abc import Callable
from dataclasses import dataclass

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
    for start in range(0, len(planned), batch_size):
        chunk = planned[start : start + batch_size]
        writer.write(chunk)
        if progress:
            progress(len(chunk))
    writer.finish()
    return DemoResult(runs=len(planned), rows=writer.rows)
