"""Snapshots whose code exists only as an archive in an artifact store, made by the real zenml
client: `python archived_code.py STORE_PATH NAME...` registers a stack whose artifact store is the
local folder STORE_PATH (a local store another process on this machine can read: the default one
lives in each installation's own local stores path) and, for each NAME, writes a module
`archived_<NAME>` with a 2-step pipeline into a folder of its own (outside the runner's source
root), has the client archive that folder and upload it as the snapshot's `code_path`, and deletes
the folder. Prints `E2E_RESULT {NAME: {"snapshot_id", "code_path"}}`.

The client uploads code only for a stack whose build needs it (a containerized orchestrator);
`should_upload_code` is forced here so the local stack's snapshot gets its archive the same way."""

import importlib
import json
import shutil
import sys
from pathlib import Path

from zenml.client import Client
from zenml.enums import StackComponentType
from zenml.pipelines import build_utils
from zenml.utils import source_utils

MODULE = """
from zenml import pipeline, step


@step
def produce() -> list:
    return [1, 2, 3]


@step
def consume(xs: list) -> int:
    return sum(xs)


@pipeline(name="archived_{name}", enable_cache=False)
def archived_pipeline():
    consume(produce())
"""


def use_store(path: str) -> None:
    client = Client()
    store = client.create_stack_component(
        name="shared-folder",
        flavor="local",
        component_type=StackComponentType.ARTIFACT_STORE,
        configuration={"path": path},
    )
    orchestrator = client.active_stack_model.components[StackComponentType.ORCHESTRATOR][0]
    components = {StackComponentType.ARTIFACT_STORE: store.id, StackComponentType.ORCHESTRATOR: orchestrator.id}
    client.activate_stack(client.create_stack(name="shared-folder", components=components).id)


def snapshot_with_archived_code(name: str) -> dict:
    folder = Path.cwd() / f"code-{name}"
    folder.mkdir()
    (folder / f"archived_{name}.py").write_text(MODULE.format(name=name))
    source_utils.set_custom_source_root(str(folder))
    sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(f"archived_{name}")
        snapshot = module.archived_pipeline.create_snapshot(name=f"archived-{name}")
    finally:
        sys.path.remove(str(folder))
        shutil.rmtree(folder)
    assert snapshot.code_path, "the client uploaded no code"
    return {"snapshot_id": str(snapshot.id), "code_path": snapshot.code_path}


if __name__ == "__main__":
    build_utils.should_upload_code = lambda **kwargs: True
    use_store(sys.argv[1])
    print("E2E_RESULT " + json.dumps({name: snapshot_with_archived_code(name) for name in sys.argv[2:]}))
