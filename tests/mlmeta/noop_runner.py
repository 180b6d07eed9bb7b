"""A runner that launches nothing: the automation tests need runs created by a real worker
without a zenml client (selected with the stack label `mlmeta.runner: noop`)."""

from mlmeta.runners import Runner


class NoopRunner(Runner):
    name = "noop"

    def launch(self, run, environment: dict) -> dict:
        return {"noop": True}
