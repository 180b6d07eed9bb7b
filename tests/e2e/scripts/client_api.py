"""Python `Client()` calls a user makes, one per sub-command; each prints `E2E_RESULT <json>`.

python client_api.py whoami
python client_api.py show-run RUN_ID
python client_api.py load ARTIFACT_VERSION_ID
python client_api.py tag-run RUN_ID TAG
python client_api.py log-run-metadata RUN_ID
python client_api.py create-model-version MODEL
python client_api.py run-template SNAPSHOT_ID NAME
"""

import json
import sys

from zenml import add_tags, log_metadata
from zenml.client import Client


def whoami() -> dict:
    client = Client()
    user = client.active_user
    return {"name": user.name, "same": client.get_user(user.id).name, "project": client.active_project.name}


def show_run(run_id: str) -> dict:
    client = Client()
    listed = [str(r.id) for r in client.list_pipeline_runs(sort_by="desc:created").items]
    run = client.get_pipeline_run(run_id)
    steps = {name: s.status.value for name, s in run.steps.items()}
    return {"listed": listed, "name": run.name, "status": run.status.value, "steps": steps}


def load(artifact_version_id: str) -> dict:
    version = Client().get_artifact_version(artifact_version_id)
    return {"value": version.load(), "name": version.artifact.name, "version": version.version}


def tag_run(run_id: str, tag: str) -> dict:
    add_tags(tags=[tag], run=run_id)
    return {"tags": [t.name for t in Client().get_pipeline_run(run_id).tags]}


def log_run_metadata(run_id: str) -> dict:
    log_metadata(metadata={"e2e_score": 0.93, "e2e_note": "hello"}, run_id_name_or_prefix=run_id)
    run = Client().get_pipeline_run(run_id)
    return {"run_metadata": {k: v for k, v in run.run_metadata.items() if k.startswith("e2e_")}}


def create_model_version(model: str) -> dict:
    version = Client().create_model_version(model_name_or_id=model, name="v1", description="e2e")
    return {"name": version.name, "number": version.number, "model": version.model.name}


def run_template(snapshot_id: str, name: str) -> dict:
    """Make a run template of a recorded snapshot and run it from the server, as a user would."""
    client = Client()
    template = client.create_run_template(name=name, snapshot_id=snapshot_id, tags=["e2e"])
    listed = [t.name for t in client.list_run_templates(name=name).items]
    run = client.trigger_pipeline(template_id=template.id)
    return {"template_id": str(template.id), "listed": listed, "run_id": str(run.id), "status": run.status.value}


COMMANDS = {
    "whoami": whoami,
    "show-run": show_run,
    "load": load,
    "tag-run": tag_run,
    "log-run-metadata": log_run_metadata,
    "create-model-version": create_model_version,
    "run-template": run_template,
}

if __name__ == "__main__":
    print("E2E_RESULT " + json.dumps(COMMANDS[sys.argv[1]](*sys.argv[2:])))
