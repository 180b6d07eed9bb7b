"""The `local` runner: a subprocess on the worker's machine runs ZenML's runner entrypoint for
snapshots (RunnerEntrypointConfiguration, what the real server's workload manager starts) in a
configured Python environment, logged in to this server with a workload token for the run. A
snapshot whose code is not under the source root but recorded with it (a code archive in the
artifact store or a code repository commit) has it downloaded first (local_entrypoint.py)."""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings

from mlmeta.runners import Runner, RunnerError, entrypoint_arguments

# Runs inside the runner's Python: `python local_entrypoint.py SOURCE_ROOT WORK_DIR <arguments>`.
ENTRYPOINT = Path(__file__).with_name("local_entrypoint.py")
REASON_CHARS = 200


def default_python() -> str:
    zenml_venv = Path(settings.BASE_DIR) / ".venv-zenml" / "bin" / "python"
    return str(zenml_venv) if zenml_venv.exists() else "python3"


class LocalRunner(Runner):
    """Options: `python` (settings.MLMETA_RUNNER_PYTHON), `source_root` (settings.MLMETA_RUNNER_SOURCE_ROOT),
    `timeout` seconds (settings.MLMETA_RUNNER_TIMEOUT)."""

    waits = True

    def python(self) -> str:
        return self.options.get("python") or settings.MLMETA_RUNNER_PYTHON or default_python()

    def source_root(self) -> str:
        return self.options.get("source_root") or settings.MLMETA_RUNNER_SOURCE_ROOT or str(settings.BASE_DIR)

    def refuse(self, snapshot) -> str | None:
        """No Python with zenml to run it in, or no source root to import the pipeline from."""
        python = self.python()
        if os.sep in python and not os.access(python, os.X_OK):
            return f"The local runner's Python {python} does not exist on this server."
        if not Path(self.source_root()).is_dir():
            return f"The local runner's source root {self.source_root()} does not exist on this server."
        return super().refuse(snapshot)

    def log_path(self, run) -> Path:
        folder = Path(settings.VAR_DIR) / "runner-logs"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{run.pk}.log"

    def command(self, run, work_dir: str) -> list[str]:
        return [self.python(), str(ENTRYPOINT), self.source_root(), work_dir, *entrypoint_arguments(run)]

    def launch(self, run, environment: dict) -> dict:
        """Start the subprocess in its own session (so stop() can end its whole group), wait for it
        within the timeout, and turn a failure into a RunnerError carrying the log's last line."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENML_", "DJANGO_"))}
        home = Path(settings.VAR_DIR) / "runner-home" / str(run.pk)
        env.update(
            ZENML_CONFIG_PATH=str(home / "config"),
            ZENML_LOCAL_STORES_PATH=str(home / "stores"),
            ZENML_ANALYTICS_OPT_IN="false",
            ZENML_LOGGING_COLORS_DISABLED="true",
            ZENML_ENABLE_RICH_TRACEBACK="false",
            ZENML_DISABLE_CLIENT_SERVER_MISMATCH_WARNING="true",
        )
        env.update(environment)
        home.mkdir(parents=True, exist_ok=True)
        work_dir = tempfile.mkdtemp(prefix="work-", dir=home)  # downloaded code, removed afterwards
        try:
            return self.run_process(run, env, work_dir)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)

    def run_process(self, run, env: dict, work_dir: str) -> dict:
        log = self.log_path(run)
        with open(log, "wb") as output:
            try:
                process = subprocess.Popen(
                    self.command(run, work_dir),
                    cwd=self.source_root(),
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            except OSError as exc:
                raise RunnerError(f"Could not start the runner: {exc}") from exc
        self.record_pid(run, process.pid)
        timeout = float(self.options.get("timeout") or settings.MLMETA_RUNNER_TIMEOUT)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill(process.pid)
            raise RunnerError(f"The runner did not finish within {int(timeout)} seconds and was stopped.") from None
        if code != 0:
            raise RunnerError(f"The runner exited with code {code}: {last_line(log)}")
        return {"pid": process.pid, "log": str(log), "exit_code": code}

    def record_pid(self, run, pid: int) -> None:
        """Keep the pid on the run at once, so Stop can end the subprocess while it runs."""
        launch = dict(run.launch or {})
        launch["handle"] = {"pid": pid, "host": os.uname().nodename}
        type(run).objects.filter(pk=run.pk).update(launch=launch)
        run.launch = launch

    def stop(self, run) -> None:
        handle = (run.launch or {}).get("handle") or {}
        if handle.get("pid") and handle.get("host") == os.uname().nodename:
            self.kill(handle["pid"])

    @staticmethod
    def kill(pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)


def last_line(path: Path) -> str:
    """The last non-empty line of the runner's log (the exception, usually), cut to REASON_CHARS."""
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no output"
    line = (lines[-1] if lines else "no output").strip()
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 1] + "…"
