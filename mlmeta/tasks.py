"""Celery tasks of the mlmeta app. They take ids, are idempotent and write their outcome on the row."""

import logging
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from mlmeta import runners
from mlmeta.choices import ExecutionStatus

logger = logging.getLogger(__name__)
MAX_RETRIES = 5


def claim(run_id) -> bool:
    """Take the run for this task: one atomic UPDATE that only succeeds while the run is
    initializing and unclaimed, so a redelivered or duplicated task never launches it twice."""
    from mlmeta.models import PipelineRun

    now = timezone.now()
    return bool(
        PipelineRun.objects.filter(
            pk=run_id, status=ExecutionStatus.INITIALIZING, runner_claimed_at__isnull=True
        ).update(runner_claimed_at=now, status_reason="Starting the runner.", updated=now)
    )


def release(run_id, reason: str) -> None:
    """Give the claim back before a retry (the runner did not start anything)."""
    from mlmeta.models import PipelineRun

    PipelineRun.objects.filter(pk=run_id, status=ExecutionStatus.INITIALIZING).update(
        runner_claimed_at=None, status_reason=reason[:255], updated=timezone.now()
    )


def fail_abandoned(run_id) -> bool:
    """A run claimed long ago by a worker that died before its runner recorded a handle is failed
    (a redelivered task must not launch it: the runner may have started)."""
    from mlmeta.models import PipelineRun

    stale = timezone.now() - timedelta(seconds=settings.MLMETA_RUNNER_CLAIM_SECONDS)
    run = PipelineRun.objects.filter(pk=run_id).only("launch", "status", "runner_claimed_at").first()
    if run is None or run.status != ExecutionStatus.INITIALIZING or (run.launch or {}).get("handle"):
        return False
    if run.runner_claimed_at is None or run.runner_claimed_at >= stale:
        return False
    now = timezone.now()
    return bool(
        PipelineRun.objects.filter(pk=run_id, status=ExecutionStatus.INITIALIZING).update(
            status=ExecutionStatus.FAILED,
            status_reason="The worker running the launcher was lost before the runner started.",
            end_time=now,
            updated=now,
        )
    )


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=settings.MLMETA_RUN_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.MLMETA_RUN_TASK_TIME_LIMIT,
)
def run_snapshot(self, run_id: str) -> str:
    """Launch the server-side run `run_id` with its runner; returns what happened (for logs)."""
    from mlmeta.launching import fail
    from mlmeta.models import PipelineRun

    if not claim(run_id):
        if fail_abandoned(run_id):
            return "abandoned"
        return "already claimed or not initializing"
    run = PipelineRun.objects.select_related("snapshot__stack", "tenant", "user", "project").get(pk=run_id)
    launch = run.launch or {}
    try:
        if run.snapshot is None or run.user is None:
            raise runners.RunnerError("The run's snapshot or user is gone.")
        if not PipelineRun.objects.restrict(run.user, "create").filter(pk=run.pk).exists():
            raise runners.RunnerError(f"{run.user} may no longer create runs in this project.")
        runner = runners.get(launch.get("runner") or runners.name_for(run.snapshot))
        handle = runner.launch(run, runners.environment(run))
    except runners.RunnerUnavailable as exc:
        if self.request.retries >= MAX_RETRIES:
            fail(run_id, f"Runner unavailable after {MAX_RETRIES} retries: {exc}")
            return "failed"
        release(run_id, f"Retrying: {exc}")
        raise self.retry(countdown=min(600, 2 ** (self.request.retries + 2)), exc=exc) from None
    except SoftTimeLimitExceeded:
        fail(run_id, "The runner was stopped by the task's time limit.")
        return "timed out"
    except (runners.RunnerError, KeyError, ImportError) as exc:
        fail(run_id, str(exc) or exc.__class__.__name__)
        return "failed"
    except Exception as exc:
        logger.exception("Runner for run %s crashed", run_id)
        fail(run_id, f"The runner crashed: {exc.__class__.__name__}: {exc}")
        return "failed"
    record_handle(run, handle)
    if runner.waits:
        # The runner's client has run the pipeline: a run still initializing never started.
        return "failed" if fail(run_id, "The runner finished without starting the run.") else "ran"
    PipelineRun.objects.filter(pk=run_id, status=ExecutionStatus.INITIALIZING).update(
        status_reason=f"Dispatched to the {runner.name} runner."
    )
    return "dispatched"


def record_handle(run, handle: dict) -> None:
    from mlmeta.models import PipelineRun

    launch = dict(PipelineRun.objects.filter(pk=run.pk).values_list("launch", flat=True).first() or {})
    launch["handle"] = {**(launch.get("handle") or {}), **(handle or {})}
    PipelineRun.objects.filter(pk=run.pk).update(launch=launch)


@shared_task(acks_late=True, time_limit=300, soft_time_limit=240)
def sweep_server_side_runs() -> dict:
    """Safety net for lost tasks (a broker that drops an unacked message, a crash between commit
    and enqueue): server-side runs still queued after the claim lease are enqueued again (the claim
    keeps it to one launch); claimed ones whose launcher died before starting a runner are failed.
    Scheduled by CELERY_BEAT_SCHEDULE."""
    from mlmeta.models import PipelineRun

    stale = timezone.now() - timedelta(seconds=settings.MLMETA_RUNNER_CLAIM_SECONDS)
    waiting = PipelineRun.objects.filter(
        launch__isnull=False, status=ExecutionStatus.INITIALIZING, created__lt=stale
    ).values_list("pk", "runner_claimed_at")
    requeued = failed = 0
    for run_id, claimed_at in waiting[:500]:
        if claimed_at is None:
            run_snapshot.delay(str(run_id))
            requeued += 1
        elif fail_abandoned(run_id):
            failed += 1
    return {"requeued": requeued, "failed": failed}
