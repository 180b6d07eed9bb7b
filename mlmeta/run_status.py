"""How a pipeline run's status follows from its steps (wire.md section 9.1), as pure functions.

The model methods `PipelineRun.refresh_status()` and `PipelineRun.update_status()` apply them;
keeping the rules here lets them be tested without a database.
"""

from collections.abc import Iterable

from mlmeta.choices import ExecutionStatus as S

FINISHED = S.finished()
DONE_OK = frozenset({S.COMPLETED, S.CACHED, S.SKIPPED})

# A run moves forward through these stages only; a late client update that would move it back
# (e.g. `provisioning` after the orchestrator already reported `running`) is ignored.
_STAGE = {S.INITIALIZING: 0, S.PROVISIONING: 1, S.QUEUED: 2}
_ACTIVE_STAGE = 3


def stage(status: str) -> int:
    if status in FINISHED:
        return 4
    return _STAGE.get(status, _ACTIVE_STAGE)


def accepts(current: str, new: str) -> bool:
    """Whether a run in `current` may be moved to `new` by a client update."""
    if current in FINISHED:
        return False
    return stage(new) >= stage(current)


def latest_per_step(rows: Iterable[tuple[str, int, str]]) -> dict[str, str]:
    """{step name: status of its newest version} from (name, version, status) rows; retried
    versions are superseded by their retry."""
    latest: dict[str, tuple[int, str]] = {}
    for name, version, status in rows:
        if status == S.RETRIED:
            continue
        if name not in latest or version > latest[name][0]:
            latest[name] = (version, status)
    return {name: status for name, (_, status) in latest.items()}


def derive_run_status(current: str, step_statuses: Iterable[str], expected_steps: int | None) -> str:
    """The status a run has given its steps' statuses.

    `expected_steps` is the snapshot's step count for static pipelines, None for dynamic ones
    (whose run only finishes when the orchestrator says so). Finished runs keep their status.
    """
    statuses = list(step_statuses)
    if current in FINISHED or not statuses:
        return current
    if S.FAILED in statuses:
        return S.FAILED
    if any(status in (S.STOPPED, S.CANCELLED) for status in statuses) or current == S.STOPPING:
        return S.STOPPED if all(status in FINISHED for status in statuses) else S.STOPPING
    if any(status not in FINISHED for status in statuses):
        return S.RUNNING
    if expected_steps is None or len(statuses) < expected_steps:
        return S.RUNNING
    return S.COMPLETED if all(status in DONE_OK for status in statuses) else S.RUNNING
