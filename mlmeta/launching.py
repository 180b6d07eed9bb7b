"""Server-side runs: launch a snapshot (API, dashboard, schedules, triggers all come through here).

launch_snapshot() checks everything that can be checked before queueing (permission, a stack, a
runner able to run the snapshot, overrides that fit the snapshot's parameters), then — like the
real server's run_snapshot — derives a new snapshot carrying the overrides, creates the run row
(status initializing, `launch` recording who/what started it) and enqueues the Celery task on
commit with ids only. The task (mlmeta.tasks.run_snapshot) claims the run and hands it to a runner.
"""

import copy
import logging
import uuid

from django.db import transaction
from django.utils import timezone

from core.api.exceptions import IllegalOperationError, ZenError
from core.api.validation import invalid, validator
from mlmeta import runners
from mlmeta.choices import ExecutionStatus
from mlmeta.models import PipelineRun, PipelineSnapshot
from tenants import audit, rbac

logger = logging.getLogger(__name__)
QUEUED_REASON = "Queued for the runner."
# Run configuration keys a server-side run may override (PipelineRunConfiguration minus what
# would change the code or the stack that runs).
OVERRIDABLE = {
    "run_name",
    "enable_cache",
    "enable_artifact_metadata",
    "enable_artifact_visualization",
    "enable_step_logs",
    "enable_pipeline_logs",
    "parameters",
    "steps",
    "tags",
    "extra",
    "substitutions",
    "environment",
}
JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


class SnapshotNotRunnable(ZenError):
    """422: the snapshot cannot be run from the server (no stack, no runner for it, ...)."""

    status_code = 422

    def __init__(self, message: str):
        super().__init__(message, "ValueError", 422)


def json_type(value) -> str:
    if value is None:
        return "null"
    return JSON_TYPES.get(type(value), "object")


def type_matches(expected, value) -> bool:
    """A new value fits a recorded default if both have the same JSON type (ints fit numbers)."""
    if expected is None or value is None:
        return True
    got, want = json_type(value), json_type(expected)
    return got == want or (want == "number" and got == "integer")


def check_parameters(overrides: dict, known: dict, schema: dict | None, where: str) -> None:
    """Each overridden parameter must exist and keep its type (the config schema's, else the
    recorded value's): 422 naming the first one that does not."""
    properties = (schema or {}).get("properties") or {}
    for name, value in overrides.items():
        if name not in known and name not in properties:
            raise invalid(f"{where}.{name}", f"Unknown parameter '{name}'", value)
        if name in properties:
            errors = list(validator_for(properties[name]).iter_errors(value))
            if errors:
                raise invalid(f"{where}.{name}", f"Input should be of type {errors[0].message}", value)
        elif not type_matches(known[name], value):
            wanted = json_type(known[name])
            raise invalid(f"{where}.{name}", f"Input should be a valid {wanted}", value)


def validator_for(schema: dict):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema)


def schema_section(schema: dict | None, *path: str) -> dict | None:
    for key in path:
        if not isinstance(schema, dict):
            return None
        schema = (schema.get("properties") or {}).get(key)
    return schema if isinstance(schema, dict) else None


def without_unset(overrides: dict) -> dict:
    """The client sends a whole PipelineRunConfiguration (`model_dump()`): a null is an option
    left unset, at the top and in each step, not an override."""
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if isinstance(overrides.get("steps"), dict):
        overrides["steps"] = {
            name: {key: value for key, value in step.items() if value is not None} if isinstance(step, dict) else step
            for name, step in overrides["steps"].items()
        }
    return overrides


def validate_overrides(snapshot: PipelineSnapshot, overrides: dict | None) -> dict:
    """The run configuration overrides, checked against ZenML's PipelineRunConfiguration and the
    snapshot's own parameters and steps; returns them (an empty dict if none)."""
    overrides = overrides or {}
    if not isinstance(overrides, dict):
        raise invalid("run_configuration", "Input should be a valid dictionary", overrides)
    overrides = without_unset(overrides)
    errors = list(validator("PipelineRunConfiguration").iter_errors(overrides))
    if errors:
        loc = ".".join(map(str, ("run_configuration", *errors[0].absolute_path)))
        raise invalid(loc, errors[0].message, errors[0].instance)
    for key in overrides:
        if key not in OVERRIDABLE:
            raise invalid(f"run_configuration.{key}", f"'{key}' cannot be changed for a server-side run", None)
    schema = snapshot.config_schema
    pipeline_parameters = (snapshot.pipeline_configuration or {}).get("parameters") or {}
    check_parameters(
        overrides.get("parameters") or {},
        pipeline_parameters,
        schema_section(schema, "parameters"),
        "run_configuration.parameters",
    )
    steps = snapshot.step_configurations or {}
    for step_name, step_override in (overrides.get("steps") or {}).items():
        if step_name not in steps:
            raise invalid(f"run_configuration.steps.{step_name}", f"Unknown step '{step_name}'", None)
        known = ((steps[step_name] or {}).get("config") or {}).get("parameters") or {}
        check_parameters(
            (step_override or {}).get("parameters") or {},
            known,
            schema_section(schema, "steps", step_name, "parameters"),
            f"run_configuration.steps.{step_name}.parameters",
        )
    return overrides


def refusal(snapshot: PipelineSnapshot) -> tuple[str | None, str]:
    """(why the snapshot cannot run or None, the runner's name)."""
    if snapshot.stack_id is None:
        return "This snapshot has no stack: it cannot be run from the server.", ""
    name = runners.name_for(snapshot)
    try:
        runner = runners.get(name)
    except (KeyError, ImportError) as exc:
        return f"The runner '{name}' is not configured on this server ({exc}).", name
    return runner.refuse(snapshot), name


def merge_configuration(snapshot: PipelineSnapshot, overrides: dict) -> tuple[dict, dict]:
    """The pipeline and step configurations with `overrides` applied (parameters merged)."""
    pipeline_configuration = copy.deepcopy(snapshot.pipeline_configuration or {})
    step_configurations = copy.deepcopy(snapshot.step_configurations or {})
    for key, value in overrides.items():
        if key == "parameters":
            pipeline_configuration["parameters"] = {**(pipeline_configuration.get("parameters") or {}), **value}
        elif key == "steps":
            for step_name, step_override in value.items():
                config = step_configurations[step_name].setdefault("config", {})
                params = (step_override or {}).get("parameters") or {}
                config["parameters"] = {**(config.get("parameters") or {}), **params}
                for option, option_value in (step_override or {}).items():
                    if option != "parameters":
                        config[option] = option_value
        elif key != "run_name":
            pipeline_configuration[key] = value
    for name, value in (overrides.get("parameters") or {}).items():
        for step in step_configurations.values():
            step_parameters = (step.get("config") or {}).get("parameters") or {}
            if name in step_parameters:
                step_parameters[name] = value
    return pipeline_configuration, step_configurations


def derive_snapshot(snapshot: PipelineSnapshot, overrides: dict, template_id=None) -> PipelineSnapshot:
    """A copy of `snapshot` carrying the overrides, pointing back at it (what the real server's
    create_snapshot_from_source does): each server-side run gets its own snapshot, so the runner's
    client replaces exactly this run's placeholder."""
    derived = PipelineSnapshot.objects.get(pk=snapshot.pk)
    derived.pk = uuid.uuid4()
    derived._state.adding = True
    derived.name = None
    derived.source_snapshot = snapshot.source_snapshot or snapshot
    derived.template_id = template_id or snapshot.template_id
    derived.pipeline_configuration, derived.step_configurations = merge_configuration(snapshot, overrides)
    if overrides.get("run_name"):
        derived.run_name_template = overrides["run_name"]
    derived.save()
    return derived


def run_name(snapshot: PipelineSnapshot) -> str:
    """The run's name from the snapshot's template ({date}, {time} and the pipeline's own
    substitutions), made unique in the project."""
    now = timezone.now()
    values = dict((snapshot.pipeline_configuration or {}).get("substitutions") or {})
    values.setdefault("date", now.strftime("%Y_%m_%d"))
    values.setdefault("time", now.strftime("%H_%M_%S_%f"))
    try:
        name = (snapshot.run_name_template or "{date}-{time}").format(**values)
    except (KeyError, IndexError, ValueError):
        name = snapshot.run_name_template or snapshot.pipeline.name
    name = name[:230]
    if PipelineRun.objects.filter(project_id=snapshot.project_id, name=name).exists():
        name = f"{name}-{uuid.uuid4().hex[:8]}"
    return name


def may_launch(user, snapshot) -> bool:
    """Running a snapshot needs read on it and pipeline_run:create in its project."""
    return rbac.check(user, "read", snapshot) and rbac.can(
        user, "create", "pipeline_run", tenant=snapshot.tenant, project=snapshot.project
    )


def launch_snapshot(
    snapshot, *, user, overrides=None, trigger=None, source_run=None, template_id=None, request=None
) -> PipelineRun:
    """Start a server-side run of `snapshot` as `user`; returns the new run (status initializing).

    Raises IllegalOperationError (403) without pipeline_run:create in the project or read on the
    snapshot, RequestValidationError (422) for bad overrides, SnapshotNotRunnable (422) for a
    snapshot no runner can run. Nothing is created or queued when it raises. `trigger` is a small
    JSON note of what started the run ({"type": "api"|"dashboard"|"replay"|"schedule"|"trigger"|"template", ...});
    `template_id` marks the run's snapshot as made from that run template."""
    if not may_launch(user, snapshot):
        raise IllegalOperationError("You are not allowed to run this snapshot (needs pipeline_run:create).")
    overrides = validate_overrides(snapshot, overrides)
    reason, runner_name = refusal(snapshot)
    if reason:
        raise SnapshotNotRunnable(reason)
    with transaction.atomic():
        target = derive_snapshot(snapshot, overrides, template_id)
        run = PipelineRun.objects.create(
            project=snapshot.project,
            user=user,
            name=run_name(target),
            pipeline=target.pipeline,
            snapshot=target,
            source_snapshot=target.source_snapshot,
            stack=target.stack,
            build=target.build,
            status=ExecutionStatus.INITIALIZING,
            status_reason=QUEUED_REASON,
            original_run=source_run,
            trigger_info={"type": (trigger or {}).get("type", "api")},
            launch={
                "trigger": trigger or {"type": "api"},
                "source_snapshot": str(snapshot.pk),
                "source_run": str(source_run.pk) if source_run else None,
                "overrides": overrides,
                "runner": runner_name,
                "by": str(user.pk),
            },
        )
        audit.record(
            "run_snapshot",
            request=request,
            actor=user,
            obj=run,
            resource_type="pipeline_run",
            changes={"snapshot": str(snapshot.pk), "runner": runner_name},
            detail=f"Run of snapshot {snapshot.pk} via {runner_name} ({(trigger or {}).get('type', 'api')})",
        )
        transaction.on_commit(lambda: enqueue(run.pk))
    return run


def enqueue(run_id) -> None:
    """Queue the task; a broker that refuses fails the run at once (never stuck in initializing)."""
    from mlmeta.tasks import run_snapshot

    try:
        run_snapshot.delay(str(run_id))
    except Exception as exc:  # broker down: record it on the run rather than lose it silently
        fail(run_id, f"Could not queue the run: {exc.__class__.__name__}.")


def replay_run(run: PipelineRun, *, user, overrides=None, request=None) -> PipelineRun:
    """Run `run` again: its snapshot with its configuration (plus optional overrides)."""
    if run.snapshot is None:
        raise SnapshotNotRunnable("This run has no snapshot any more: it cannot be replayed.")
    return launch_snapshot(
        run.snapshot,
        user=user,
        overrides=overrides,
        trigger={"type": "replay", "run": str(run.pk)},
        source_run=run,
        request=request,
    )


def fail(run_id, reason: str) -> bool:
    """Mark a run that has not started failed with `reason`; whether it was still initializing."""
    now = timezone.now()
    failed = PipelineRun.objects.filter(pk=run_id, status=ExecutionStatus.INITIALIZING).update(
        status=ExecutionStatus.FAILED, status_reason=reason[:255], end_time=now, updated=now
    )
    if failed:  # an update() sends no signal: tell the triggers watching for failed runs
        from mlmeta.triggers import run_status_changed

        run_status_changed(PipelineRun.objects.get(pk=run_id))
    return bool(failed)


def stop_runner(run: PipelineRun) -> None:
    """End what the runner started for a server-side run (best effort, after the run is stopped)."""
    launch = run.launch or {}
    if not launch.get("runner"):
        return
    try:
        runners.get(launch["runner"]).stop(run)
    except Exception:  # a stop request must not fail because the runner is gone or misconfigured
        logger.warning("Runner %s could not stop run %s", launch["runner"], run.pk, exc_info=True)
    now = timezone.now()
    PipelineRun.objects.filter(pk=run.pk, status__in=[ExecutionStatus.INITIALIZING, ExecutionStatus.STOPPING]).update(
        status=ExecutionStatus.STOPPED, status_reason="Stopped from the server.", end_time=now, updated=now
    )
