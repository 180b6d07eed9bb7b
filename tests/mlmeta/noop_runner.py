"""Runners that start no zenml client: the automation tests need runs created by a real worker
(selected with the stack label `mlmeta.runner`: `noop` launches nothing, `complete` finishes the
run at once, as a local runner whose pipeline ran)."""

from mlmeta.choices import ExecutionStatus
from mlmeta.runners import Runner


class NoopRunner(Runner):
    name = "noop"

    def launch(self, run, environment: dict) -> dict:
        return {"noop": True}


class CompletingRunner(Runner):
    name = "complete"
    waits = True

    def launch(self, run, environment: dict) -> dict:
        run.update_status(ExecutionStatus.COMPLETED)
        return {"completed": True}
