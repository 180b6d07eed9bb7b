"""Run by the real zenml client (.venv-zenml) from `make bench`: the 2-step pipeline of wire.md 8.3
(`produce` returns a list, `consume` sums it and logs the run's metadata as the bench's seeded
runs have it), caching off, against ZENML_STORE_URL. With
`--queries` it instead prints, one per line as `QUERY <method> <path?query>`, the requests the
client's own Client().list_artifact_versions() sends (the exact query string the bench times)."""

import sys

from zenml import get_step_context, log_metadata, pipeline, step


@step
def produce(n: int = 5) -> list:
    return list(range(n))


@step
def consume(xs: list) -> int:
    run = get_step_context().pipeline_run.id
    log_metadata(metadata={"accuracy": 0.5, "model_kind": "linear"}, run_id_name_or_prefix=run)
    return sum(xs)


@pipeline(enable_cache=False)
def bench_pipeline():
    consume(produce())


def print_queries() -> None:
    import requests
    from zenml.client import Client

    client = Client()
    client.zen_store  # log in first: only the list's own requests are printed  # noqa: B018
    send = requests.Session.send

    def recording(session, request, **kwargs):
        print(f"QUERY {request.method} {request.url}", flush=True)
        return send(session, request, **kwargs)

    requests.Session.send = recording
    client.list_artifact_versions()


if __name__ == "__main__":
    if sys.argv[1:] == ["--queries"]:
        print_queries()
    else:
        run = bench_pipeline()
        print(f"BENCH_RUN {run.id} {run.status.value}")
