"""A redis-server of a test's own, for broker-restart tests: a free loopback port, its own
directory and an append-only file synced on every write, so a restart (SIGTERM, then the same
command again) keeps the queued messages. The machine's Redis on 6379 is never touched.

Without the redis-server binary the test skips locally and fails in CI (CI=true)."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import IN_CI


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not installed: the broker-restart tests need their own Redis."
        if IN_CI:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return binary


class RedisServer:
    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            redis_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip

    def start(self) -> None:
        self.starts += 1
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
            if self.process.poll() is not None:
                break
        log = self.directory / "redis.log"
        raise AssertionError(f"redis-server did not start:\n{log.read_text() if log.exists() else ''}")

    def stop(self) -> None:
        """SIGTERM: Redis flushes its append-only file and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=0, socket_timeout=2)
