"""Run by the local runner in its own Python (zenml installed, no Django):

    python local_entrypoint.py SOURCE_ROOT WORK_DIR <ZenML entrypoint arguments>

ZenML's entrypoint (`python -m zenml.entrypoints.entrypoint`) with the pipeline's modules imported
from SOURCE_ROOT. When they are not there but the snapshot records where its code is (an archive
in the artifact store, `code_path`, or a commit of a code repository, `code_reference`), the code
is downloaded into WORK_DIR first and the pipeline runs from there, with zenml's own functions
(what `prepare_code_environment` does in ZenML's container entrypoints; the runner entrypoint for
snapshots does not do it: the real server's runner image has no pipeline code and hands the run to
a remote orchestrator). A failed download ends the process with one readable last line."""

import argparse
import importlib.util
import os
import shutil
import sys

# Sources of these types are the pipeline's own code (the others are installed packages).
CODE_SOURCE_TYPES = {"user", "code_repository", "unknown"}


def importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except Exception:  # a parent package that is missing or fails to import
        return False


def missing_modules(snapshot) -> list[str]:
    """The snapshot's code modules (pipeline and steps) that cannot be imported here."""
    sources = [step.spec.source for step in snapshot.step_configurations.values()]
    if snapshot.pipeline_spec and snapshot.pipeline_spec.source:
        sources.append(snapshot.pipeline_spec.source)
    modules = {source.module for source in sources if source.type.value in CODE_SOURCE_TYPES}
    return sorted(module for module in modules if not importable(module))


def download_code(config, work_dir: str) -> None:
    """Download and extract the snapshot's code into work_dir, which becomes the source root."""
    snapshot = config.snapshot
    os.makedirs(work_dir, exist_ok=True)
    os.chdir(work_dir)
    if snapshot.code_path:
        download_archive(config, snapshot.code_path)
        return
    reference = snapshot.code_reference
    try:
        config.download_code_from_code_repository(code_reference=reference)
    except Exception as exc:
        print(f"Code download from {reference.code_repository.name} failed: {exc!r}", file=sys.stderr)
        fail(f"Could not download the snapshot's code from {reference.code_repository.name} at {reference.commit}.")


def download_archive(config, code_path: str) -> None:
    from zenml.utils import code_utils

    name = os.path.basename(code_path)
    try:
        store = config._load_active_artifact_store()
        code_utils.download_code_from_artifact_store(code_path=code_path, artifact_store=store)
    except FileNotFoundError:
        fail(f"Could not download the snapshot's code: archive {name} is not in the artifact store.")
    except shutil.ReadError:
        fail(f"Could not download the snapshot's code: {name} is not a readable archive.")
    except Exception as exc:
        print(f"Code download from {code_path} failed: {exc!r}", file=sys.stderr)
        fail(f"Could not download the snapshot's code archive {name}: {exc.__class__.__name__}: {exc}")


def fail(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
    sys.exit(1)


def prepare_code(config, work_dir: str) -> None:
    missing = missing_modules(config.snapshot)
    if not missing:
        return
    snapshot = config.snapshot
    if not snapshot.code_path and not snapshot.code_reference:
        fail(f"The pipeline's module {missing[0]} is not on this runner and the snapshot records no code to download.")
    download_code(config, work_dir)
    if still_missing := missing_modules(snapshot):
        fail(f"The pipeline's module {still_missing[0]} is not in the snapshot's downloaded code.")


def main() -> None:
    source_root, work_dir = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    # sys.path[0] is this file's folder, whose kubernetes.py would shadow the real package.
    sys.path[0] = source_root

    from zenml.entrypoints.base_entrypoint_configuration import (
        ENTRYPOINT_CONFIG_SOURCE_OPTION,
        BaseEntrypointConfiguration,
    )
    from zenml.execution.pipeline.utils import prevent_pipeline_execution
    from zenml.utils import source_utils

    source_utils.set_custom_source_root(source_root)
    with prevent_pipeline_execution():
        parser = argparse.ArgumentParser()
        parser.add_argument(f"--{ENTRYPOINT_CONFIG_SOURCE_OPTION}", required=True)
        args, remaining = parser.parse_known_args()
        config_class = source_utils.load_and_validate_class(
            args.entrypoint_config_source, expected_class=BaseEntrypointConfiguration
        )
        config = config_class(arguments=remaining)
        prepare_code(config, work_dir)
        config.run()


if __name__ == "__main__":
    main()
