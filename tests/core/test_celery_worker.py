"""A real Celery worker, started as a process, consumes a task sent through the configured broker
(Redis in CI, the embedded filesystem broker by default)."""

import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

from core.tasks import ping

ROOT = Path(__file__).resolve().parents[2]


def wait_for(output_file: Path, text: str, process, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = output_file.read_text(errors="replace")
        if text in content:
            return content
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not seen in the worker's output:\n{output_file.read_text()[-3000:]}")


def test_worker_consumes_a_task_from_the_broker(tmp_path):
    log = tmp_path / "worker.log"
    env = {**os.environ, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool",
        "solo",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--hostname",
        f"test-{os.getpid()}@%h",
    ]
    with log.open("w") as out:
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(log, "ready.", worker)
        result = ping.apply_async()
        content = wait_for(log, f"Task core.ping[{result.id}] succeeded", worker)
        assert "'pong'" in content
    finally:
        worker.terminate()
        worker.wait(timeout=30)
