"""The 2-step pipeline of wire.md 8.3, run by the real zenml client: `produce` returns a list,
`consume` sums it. `python pipeline.py e2e_pipeline|e2e_cached_pipeline` runs one (caching off,
resp. on) and prints `E2E_RESULT <json>` describing the run as the client got it back."""

import json
import sys

from zenml import pipeline, step


@step
def produce() -> list:
    return [1, 2, 3]


@step
def consume(xs: list) -> int:
    return sum(xs)


@pipeline(enable_cache=False)
def e2e_pipeline():
    consume(produce())


@pipeline(enable_cache=True)
def e2e_cached_pipeline():
    consume(produce())


def describe_step(step_run) -> dict:
    return {
        "id": str(step_run.id),
        "status": step_run.status.value,
        "original_step_run_id": str(step_run.original_step_run_id or ""),
        "outputs": {name: [str(a.id) for a in versions] for name, versions in step_run.outputs.items()},
    }


if __name__ == "__main__":
    run = {"e2e_pipeline": e2e_pipeline, "e2e_cached_pipeline": e2e_cached_pipeline}[sys.argv[1]]()
    result = {
        "id": str(run.id),
        "name": run.name,
        "status": run.status.value,
        "steps": {name: describe_step(s) for name, s in run.steps.items()},
    }
    print("E2E_RESULT " + json.dumps(result))
