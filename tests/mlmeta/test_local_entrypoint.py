"""The local runner's entrypoint (mlmeta/runners/local_entrypoint.py) deciding whether to download
a snapshot's code and from where, with stand-ins for zenml's snapshot and entrypoint configuration
(the download from an archive runs for real in tests/e2e/test_server_side_runs.py)."""

import os
import sys
from enum import Enum
from types import SimpleNamespace

import pytest

from mlmeta.runners import local_entrypoint


class Kind(Enum):
    USER = "user"
    INTERNAL = "internal"


def source(module: str, kind: Kind = Kind.USER):
    return SimpleNamespace(module=module, type=kind)


def make_snapshot(*modules: str, code_path=None, code_reference=None):
    steps = {name: SimpleNamespace(spec=SimpleNamespace(source=source(name))) for name in modules}
    steps["builtin"] = SimpleNamespace(spec=SimpleNamespace(source=source("no_such_package.steps", Kind.INTERNAL)))
    spec = SimpleNamespace(source=source(modules[0])) if modules else None
    return SimpleNamespace(
        step_configurations=steps, pipeline_spec=spec, code_path=code_path, code_reference=code_reference
    )


class Config:
    """Stands in for RunnerEntrypointConfiguration: its code repository download writes the module
    `steps_in_repo` into ./code (zenml's download also writes below the working directory)."""

    def __init__(self, snapshot, fails: bool = False):
        self.snapshot = snapshot
        self.fails = fails
        self.downloaded_into = None

    def download_code_from_code_repository(self, code_reference):
        if self.fails:
            raise ConnectionError("github.com unreachable")
        self.downloaded_into = os.path.abspath("code")
        os.makedirs(self.downloaded_into)
        with open(os.path.join(self.downloaded_into, "steps_in_repo.py"), "w") as handle:
            handle.write("")
        sys.path.insert(0, self.downloaded_into)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Restores the working directory and sys.path the entrypoint changes."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return tmp_path


def reference():
    return SimpleNamespace(commit="abc123", code_repository=SimpleNamespace(name="pipelines-repo"))


def test_code_under_the_source_root_is_not_downloaded(isolated):
    (isolated / "present_steps.py").write_text("")
    sys.path.insert(0, str(isolated))
    config = Config(make_snapshot("present_steps", code_reference=reference()))
    local_entrypoint.prepare_code(config, str(isolated / "work"))
    assert config.downloaded_into is None and not (isolated / "work").exists()


def test_missing_code_is_downloaded_from_the_code_repository_into_the_work_dir(isolated):
    config = Config(make_snapshot("steps_in_repo", code_reference=reference()))
    assert local_entrypoint.missing_modules(config.snapshot) == ["steps_in_repo"]
    local_entrypoint.prepare_code(config, str(isolated / "work"))
    assert config.downloaded_into == str(isolated / "work" / "code")


def test_missing_code_without_a_recorded_copy_fails_readably(isolated, capsys):
    config = Config(make_snapshot("nowhere_steps"))
    with pytest.raises(SystemExit) as exited:
        local_entrypoint.prepare_code(config, str(isolated / "work"))
    assert exited.value.code == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "The pipeline's module nowhere_steps is not on this runner and the snapshot records no code to download."
    )


def test_a_failed_code_repository_download_fails_readably(isolated, capsys):
    config = Config(make_snapshot("steps_in_repo", code_reference=reference()), fails=True)
    with pytest.raises(SystemExit):
        local_entrypoint.prepare_code(config, str(isolated / "work"))
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "Could not download the snapshot's code from pipelines-repo at abc123."
    assert "github.com unreachable" in err[-2]


def test_downloaded_code_without_the_module_fails_readably(isolated, capsys):
    config = Config(make_snapshot("steps_in_repo", "other_steps", code_reference=reference()))
    with pytest.raises(SystemExit):
        local_entrypoint.prepare_code(config, str(isolated / "work"))
    assert capsys.readouterr().err.splitlines()[-1] == (
        "The pipeline's module other_steps is not in the snapshot's downloaded code."
    )
