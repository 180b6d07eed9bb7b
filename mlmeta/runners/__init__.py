"""Runners launch a server-side run of a snapshot somewhere: `local` (a subprocess running the
zenml client's runner entrypoint against this server), `webhook` (CI/CD dispatch) or `kubernetes`
(a batch/v1 Job). They are configured by dotted path in settings.MLMETA_RUNNERS and chosen per
stack (label `mlmeta.runner`), per tenant (settings.MLMETA_TENANT_RUNNERS) or by default
(settings.MLMETA_DEFAULT_RUNNER)."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from tenants import tokens

STACK_LABEL = "mlmeta.runner"


class RunnerError(Exception):
    """The runner could not start (or stop) the run; the message is shown on the run."""


class RunnerUnavailable(RunnerError):
    """An infrastructure problem (CI/CD or cluster unreachable): the task retries with backoff."""


class Runner:
    """Base class: `options` come from the runner's entry in settings.MLMETA_RUNNERS."""

    name = "runner"
    # Whether launch() returns only when the pipeline has run (local) or once it is dispatched.
    waits = False

    def __init__(self, name: str, **options):
        self.name = name
        self.options = options

    def refuse(self, snapshot) -> str | None:
        """Why this runner cannot run `snapshot` (None if it can); checked before anything is queued."""
        if snapshot.stack_id is None:
            return "This snapshot has no stack: it cannot be run from the server."
        return None

    def launch(self, run, environment: dict) -> dict:
        """Start `run`; return a JSON handle (pid, job name, ...) kept in run.launch["handle"]."""
        raise NotImplementedError

    def stop(self, run) -> None:
        """End what launch() started, if it still runs (best effort)."""


def configured() -> dict:
    return dict(getattr(settings, "MLMETA_RUNNERS", {}))


@cache
def _load(path: str):
    return import_string(path)


def get(name: str) -> Runner:
    """The runner called `name` in settings.MLMETA_RUNNERS; KeyError/ImportError if misconfigured."""
    entry = dict(configured()[name])
    cls = _load(entry.pop("class"))
    return cls(name, **entry)


def name_for(snapshot) -> str:
    """The runner chosen for `snapshot`: its stack's label, its tenant's choice, or the default."""
    labels = (snapshot.stack.labels or {}) if snapshot.stack_id and snapshot.stack else {}
    chosen = labels.get(STACK_LABEL)
    if not chosen:
        chosen = dict(getattr(settings, "MLMETA_TENANT_RUNNERS", {})).get(snapshot.tenant.slug)
    return chosen or settings.MLMETA_DEFAULT_RUNNER


def server_url(tenant) -> str:
    """This server's URL as the runner's zenml client reaches it (the tenant's API root)."""
    base = getattr(settings, "MLMETA_RUNNER_SERVER_URL", "") or settings.SERVER_URL
    return base.rstrip("/") + tenant.url_prefix


def workload_token(run) -> str:
    """A short-lived token for the run's user, bound to the run (like GET /api_token?token_type=workload)."""
    return tokens.issue(run.user, run.tenant, expires_in=settings.MLMETA_RUNNER_TOKEN_SECONDS, pipeline_run_id=run.pk)


def environment(run) -> dict:
    """What the zenml client in a runner needs (the variables the real server's workload manager sets)."""
    snapshot = run.snapshot
    return {
        "ZENML_ACTIVE_PROJECT_ID": str(run.project_id),
        "ZENML_ACTIVE_STACK_ID": str(snapshot.stack_id),
        "ZENML_STORE_URL": server_url(run.tenant),
        "ZENML_STORE_TYPE": "rest",
        "ZENML_STORE_API_TOKEN": workload_token(run),
        "ZENML_STORE_VERIFY_SSL": "True",
    }


def entrypoint_arguments(run) -> list[str]:
    """The arguments of ZenML's runner entrypoint for snapshots (RunnerEntrypointConfiguration)."""
    return [
        "--entrypoint_config_source",
        "zenml.zen_server.pipeline_execution.runner_entrypoint_configuration.RunnerEntrypointConfiguration",
        "--snapshot_id",
        str(run.snapshot_id),
        "--run_id",
        str(run.pk),
        "--placeholder_run_id",
        str(run.pk),
    ]
