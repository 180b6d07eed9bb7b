"""MLMeta against the real ZenML server, over HTTP on loopback, in one run (`make bench`).

    .venv-bench/bin/python bench/compare.py [--scales 1000,100000] [--targets zenml-sqlite,mlmeta-postgres]

Runs under .venv-bench (zenml[server]==0.98.0, httpx, psutil, py-spy: bench/requirements.txt).
For each target in turn it starts the server on a free loopback port with a fresh database,
seeds it, measures it and stops it; then prints a table and MLMeta/ZenML ratios and writes
everything as JSON under bench/results/:

- zenml-sqlite, zenml-mariadb: the real server (`uvicorn zenml.zen_server.zen_server_api:app`,
  as ZenML's server image starts it) on SQLite, resp. on the MariaDB at 127.0.0.1:3306
  (database zenml_bench, dropped and made anew; --mariadb-db).
- mlmeta-postgres, mlmeta-sqlite: MLMeta under gunicorn (config/gunicorn.py, as bin/serve runs
  it) on PostgreSQL at 127.0.0.1:5432 (database mlmeta_bench, dropped and made anew; --postgres-db),
  resp. SQLite.
- floor: gunicorn + a bare Django answering with MLMeta's runs page pre-built (bench/floor.py).

Seeding is the same for every server: the real client (.venv-zenml) runs the 2-step pipeline of
bench/client_pipeline.py once, then the remaining runs are made through the REST API the way the
client makes them (run, two steps, two artifact batches, two step updates, the run's metadata
`accuracy` and `model_kind` as `log_metadata` posts it), 8 requests at a time. That is the first of
--scales; for each further scale the server's own database is grown by SQL copies of the seeded runs
(bench/replicate.py), checked over HTTP (the runs list's total and last page, a copied run and its
steps) and measured again on the same server process (neither server caches runs or totals).
MLMeta's scaling is also measured interleaved: before growing, its database is copied; after the
largest scale a second MLMeta starts on the copy and every list and dashboard GET alternates
between the two sizes, so that the machine's drift between phases falls on both alike.

Figures: median and p90 latency of the client's exact list queries (from the recorded exchanges
in tests/fixtures/zenml/traffic-sample.jsonl; the artifact versions query captured from the client
itself), of the runs list filtered by run metadata (and, MLMeta only, sorted by it), of a run
detail, a step create and an artifact batch create, of MLMeta's dashboard runs list and run page
(logged in through the /login form; ZenML's dashboard is rendered in the browser); the runs page's throughput
with 8 concurrent keep-alive clients for --seconds; wall time of the pipeline run by the real
client; peak RSS of the server's process tree and of its largest process; SQL queries per request
on MLMeta (MLMETA_BENCH_QUERY_COUNT=1, core/bench.py); kept-alive requests slower than 35 ms
(Nagle's 40 ms). Requests are sequential on one kept-alive connection unless said otherwise.

The machine is shared: figures taken while other work runs are noisy. Each run records the
load average before and after each target; rerun on a quiet machine for clean figures.
"""

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import psutil
from replicate import Database, Replicator

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = Path(sys.prefix)
MLMETA_VENV = ROOT / os.environ.get("VENV", ".venv")
ZENML_VENV = ROOT / os.environ.get("ZENML_VENV", ".venv-zenml")
WORK = ROOT / "var" / "bench" / "compare"
RECORDING = ROOT / "tests" / "fixtures" / "zenml" / "traffic-sample.jsonl"
USERNAME = "bench-admin"
PASSWORD = "bench-Correct-Horse-42"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
# The databases the bench drops and makes anew (--postgres-db, --mariadb-db).
DATABASES = {"postgres": "mlmeta_bench", "mariadb": "zenml_bench"}
# The MariaDB root (empty password) makes the database; ZenML needs a user with a password.
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
ZENML_DB_USER, ZENML_DB_PASSWORD = "zenml_bench", "zenml-bench-pw"
# In order of measurement: the embedded pair first, then the production pair.
ALL_TARGETS = ("zenml-sqlite", "mlmeta-sqlite", "mlmeta-postgres", "zenml-mariadb")
NAGLE_MS = 35.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENML_", "DJANGO_", "VIRTUAL_ENV"))}
    env.pop("DATABASE_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    env.update(PYTHONUNBUFFERED="1", ZENML_ANALYTICS_OPT_IN="false", **extra)
    return env


def dig(obj, key: str):
    """The first value under `key` anywhere in a JSON document (depth first), or None."""
    if isinstance(obj, dict):
        if key in obj and obj[key] is not None:
            return obj[key]
        values = obj.values()
    elif isinstance(obj, list):
        values = obj
    else:
        return None
    for value in values:
        found = dig(value, key)
        if found is not None:
            return found
    return None


# --- HTTP ---------------------------------------------------------------------------------------


class Http:
    """One kept-alive loopback connection, bearer-authenticated (or with a dashboard session's cookie)."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 120, cookie: str | None = None):
        self.port, self.token, self.timeout, self.cookie = port, token, timeout, cookie
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method: str, path: str, body=None, form: dict | None = None) -> tuple[int, dict, bytes]:
        headers = {"User-Agent": "zenml/0.98.0", "Accept-Encoding": "gzip, deflate"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.cookie:
            headers["Cookie"] = self.cookie
        data = None
        if form is not None:
            data = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                return response.status, dict(response.getheaders()), payload
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body=None, form=None):
        status, _, payload = self.request(method, path, body, form)
        if status >= 400:
            raise RuntimeError(f"{method} {path} -> {status}: {payload[:500]!r}")
        return json.loads(payload) if payload else None

    def close(self) -> None:
        self.conn.close()


def login(port: int) -> str:
    http_ = Http(port)
    try:
        return http_.json("POST", "/api/v1/login", form={"username": USERNAME, "password": PASSWORD})["access_token"]
    finally:
        http_.close()


def dashboard_cookie(port: int) -> str:
    """Log in through MLMeta's dashboard login form (/login: session and CSRF cookies, the form's
    csrfmiddlewaretoken) as a browser does; the Cookie header of the logged-in session."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    cookies = {}

    def keep(response) -> None:
        for header in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0]

    try:
        conn.request("GET", "/login")
        response = conn.getresponse()
        page = response.read().decode()
        keep(response)
        marker = 'name="csrfmiddlewaretoken" value="'
        if response.status != 200 or marker not in page:
            raise RuntimeError(f"GET /login -> {response.status}, no csrfmiddlewaretoken")
        csrf = page.split(marker, 1)[1].split('"', 1)[0]
        form = urlencode({"csrfmiddlewaretoken": csrf, "username": USERNAME, "password": PASSWORD, "next": "/"})
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
            "Referer": f"http://127.0.0.1:{port}/login",
        }
        conn.request("POST", "/login", body=form, headers=headers)
        response = conn.getresponse()
        response.read()
        keep(response)
        if response.status != 302 or "sessionid" not in cookies:
            raise RuntimeError(f"POST /login -> {response.status}, cookies {sorted(cookies)}")
        return "; ".join(f"{k}={v}" for k, v in cookies.items())
    finally:
        conn.close()


def wait_healthy(port: int, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server on :{port} exited:\n{log.read_text()[-4000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"server on :{port} not healthy after {timeout}s:\n{log.read_text()[-4000:]}")


# --- memory -------------------------------------------------------------------------------------


class MemorySampler(threading.Thread):
    """Peak RSS of a process tree (sum) and of its largest process, sampled every 0.2 s."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peak_tree = self.peak_process = 0
        self.processes = 0
        self.stopped = threading.Event()

    def sample(self) -> tuple[int, int, int]:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0, 0, 0
        sizes = []
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                sizes.append(proc.memory_info().rss)
        return sum(sizes), max(sizes, default=0), len(sizes)

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            tree, largest, count = self.sample()
            self.peak_tree, self.peak_process = max(self.peak_tree, tree), max(self.peak_process, largest)
            self.processes = max(self.processes, count)

    def reset(self) -> None:
        """Peaks from now on (each scale gets its own)."""
        self.peak_tree = self.peak_process = self.processes = 0

    def figures(self) -> dict:
        return {
            "peak_rss_tree_mb": round(self.peak_tree / 2**20, 1),
            "peak_rss_largest_process_mb": round(self.peak_process / 2**20, 1),
            "processes": self.processes,
        }


# --- servers ------------------------------------------------------------------------------------


STARTED: list["Server"] = []  # stopped on SIGTERM/Ctrl-C, whatever the bench was doing


@dataclass
class Server:
    name: str
    kind: str  # zenml | mlmeta | floor
    port: int
    process: subprocess.Popen
    log: Path
    home: Path
    notes: dict = field(default_factory=dict)
    database: dict = field(default_factory=dict)  # how bench/replicate.py reaches the server's database
    env: dict = field(default_factory=dict)  # MLMeta: the environment its manage.py commands need

    def __post_init__(self):
        STARTED.append(self)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def fresh_home(name: str) -> Path:
    home = WORK / name
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    return home


def start_zenml(name: str, database: str) -> Server:
    home = fresh_home(name)
    if database == "mariadb":
        import pymysql

        name_ = DATABASES["mariadb"]
        conn = pymysql.connect(**MARIADB)
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name_}")
            cursor.execute(f"CREATE DATABASE {name_}")
            for host in ("127.0.0.1", "localhost"):
                cursor.execute(
                    f"CREATE USER IF NOT EXISTS '{ZENML_DB_USER}'@'{host}' IDENTIFIED BY '{ZENML_DB_PASSWORD}'"
                )
                cursor.execute(f"GRANT ALL ON {name_}.* TO '{ZENML_DB_USER}'@'{host}'")
        conn.close()
        store_url = f"mysql://{ZENML_DB_USER}:{ZENML_DB_PASSWORD}@{MARIADB['host']}:{MARIADB['port']}/{name_}"
        database_ = {"dialect": "mysql", "mysql": dict(MARIADB, database=name_)}
    else:
        store_url = f"sqlite:///{home / 'zenml.db'}"
        database_ = {"dialect": "sqlite", "path": home / "zenml.db"}
    port = free_port()
    # As ZenML's server image runs it: env-configured store, auto-activated with a default admin.
    env = clean_env(
        ZENML_CONFIG_PATH=str(home / "config"),
        ZENML_LOCAL_STORES_PATH=str(home / "stores"),
        ZENML_STORE_URL=store_url,
        ZENML_SERVER_AUTO_ACTIVATE="1",
        ZENML_DEFAULT_USER_NAME=USERNAME,
        ZENML_DEFAULT_USER_PASSWORD=PASSWORD,
        ZENML_SERVER_DEPLOYMENT_TYPE="docker",
        ZENML_LOGGING_COLORS_DISABLED="true",
        # No access log line per request (ZenML's logging ignores uvicorn's --no-access-log), as MLMeta.
        ZENML_LOGGING_VERBOSITY="WARN",
    )
    command = [
        str(BENCH_VENV / "bin" / "uvicorn"),
        "zenml.zen_server.zen_server_api:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-server-header",
        "--no-access-log",
    ]
    log = home / "server.log"
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=home, env=env, stdout=out, stderr=out, start_new_session=True)
    wait_healthy(port, process, log)
    notes = {"store": database, "process": "uvicorn, 1 process"}
    return Server(name, "zenml", port, process, log, home, notes, database_)


def start_mlmeta(name: str, database: str, query_count: bool = True, existing: str | None = None) -> Server:
    """MLMeta under gunicorn on a new database, or on `existing` (a database URL: a snapshot)."""
    home = fresh_home(name)
    if existing:
        database_url = existing
        where = {"dsn": existing} if database == "postgres" else {"path": Path(existing.removeprefix("sqlite:///"))}
        database_ = {"dialect": database, **where}
    elif database == "postgres":
        for command in ("dropdb --if-exists --force", "createdb"):
            subprocess.run([*command.split(), "-h", "127.0.0.1", "-U", "postgres", DATABASES["postgres"]], check=True)
        database_url = f"{POSTGRES}/{DATABASES['postgres']}"
        database_ = {"dialect": "postgres", "dsn": database_url}
    else:
        database_url = f"sqlite:///{home / 'mlmeta.sqlite3'}"
        database_ = {"dialect": "sqlite", "path": home / "mlmeta.sqlite3"}
    port = free_port()
    env = clean_env(
        DATABASE_URL=database_url,
        MLMETA_VAR_DIR=str(home / "var"),
        MLMETA_ADMIN_USERNAME=USERNAME,
        MLMETA_ADMIN_PASSWORD=PASSWORD,
        MLMETA_BIND=f"127.0.0.1:{port}",
        MLMETA_SERVER_URL=f"http://127.0.0.1:{port}",
        MLMETA_ACCESS_LOG="0",
    )
    if query_count:
        env["MLMETA_BENCH_QUERY_COUNT"] = "1"
    log = home / "server.log"
    python = str(MLMETA_VENV / "bin" / "python")
    with log.open("ab") as out:
        for command in (["migrate", "--noinput"], ["bootstrap"]):
            subprocess.run([python, "manage.py", *command], cwd=ROOT, env=env, stdout=out, stderr=out, check=True)
        process = subprocess.Popen(
            [python, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    wait_healthy(port, process, log)
    notes = {"store": database, "process": "gunicorn gthread"}
    return Server(name, "mlmeta", port, process, log, home, notes, database_, env)


def refresh_statistics(server: Server) -> None:
    """What MLMeta's beat does every ten minutes (core.statistics): a deployment has run it by
    the time it holds 1,000 runs; the bench seeds those in a few minutes, so it runs it once after
    seeding. (This machine's PostgreSQL runs without autovacuum, and SQLite never analyzes by itself.)
    On PostgreSQL the refresh vacuums what changed (autovacuum being off), which after growing to
    100,000 runs dirties a gigabyte of pages: a CHECKPOINT writes them out before measuring, as a
    deployment's background writer would have long since."""
    code = "from core.tasks import refresh_statistics; print(refresh_statistics())"
    if server.database.get("dialect") == "postgres":
        code += "; from django.db import connection; connection.cursor().execute('CHECKPOINT')"
    with server.log.open("ab") as out:
        subprocess.run(
            [str(MLMETA_VENV / "bin" / "python"), "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=server.env,
            stdout=out,
            stderr=out,
            check=True,
        )


def start_floor(body: bytes) -> Server:
    home = fresh_home("floor")
    (home / "body.json").write_bytes(body)
    port = free_port()
    env = clean_env(
        MLMETA_BIND=f"127.0.0.1:{port}", MLMETA_ACCESS_LOG="0", MLMETA_BENCH_FLOOR_BODY=str(home / "body.json")
    )
    log = home / "server.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                str(MLMETA_VENV / "bin" / "python"),
                "-m",
                "gunicorn",
                "-c",
                "config/gunicorn.py",
                "bench.floor:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    # The floor answers every path, /health included.
    wait_healthy(port, process, log)
    return Server("floor", "floor", port, process, log, home, {"process": "gunicorn gthread, bare Django"})


# --- the real client ----------------------------------------------------------------------------


def client_env(server: Server, home: Path) -> dict[str, str]:
    return clean_env(
        ZENML_CONFIG_PATH=str(home / "config"),
        ZENML_LOCAL_STORES_PATH=str(home / "stores"),
        ZENML_STORE_URL=server.url,
        ZENML_STORE_USERNAME=USERNAME,
        ZENML_STORE_PASSWORD=PASSWORD,
        ZENML_LOGGING_COLORS_DISABLED="true",
        ZENML_ENABLE_RICH_TRACEBACK="false",
        NO_COLOR="1",
    )


def run_client(server: Server, *args: str) -> tuple[float, str]:
    """bench/client_pipeline.py ARGS under the real client; wall seconds and stdout."""
    home = server.home / "client"
    home.mkdir(exist_ok=True)
    start = time.perf_counter()
    done = subprocess.run(
        [str(ZENML_VENV / "bin" / "python"), str(ROOT / "bench" / "client_pipeline.py"), *args],
        cwd=home,
        env=client_env(server, home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"client {args} against {server.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed, done.stdout


# --- seeding ------------------------------------------------------------------------------------


@dataclass
class World:
    """What the measurements need to know about a seeded server."""

    project: str
    run: str
    snapshot: str
    artifact_store: str
    artifact_versions_query: str


def now_iso(offset_s: float = 0) -> str:
    return (datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=offset_s)).isoformat()


def artifact_item(world: World, name: str, step_id: str, value: dict) -> dict:
    uri = f"/bench/{name}/{step_id}/{uuid.uuid4().hex[:8]}"
    return {
        "project": world.project,
        "artifact_id": None,
        "artifact_name": f"bench_pipeline::{name}::output",
        "version": None,
        "has_custom_name": False,
        "type": "DataArtifact" if name == "consume" else "BaseArtifact",
        "artifact_store_id": world.artifact_store,
        "uri": uri,
        "materializer": {
            "module": "zenml.materializers.built_in_materializer",
            "attribute": "BuiltInMaterializer" if name == "consume" else "BuiltInContainerMaterializer",
            "type": "internal",
        },
        "data_type": {"module": "builtins", "attribute": "int" if name == "consume" else "list", "type": "builtin"},
        "content_hash": uuid.uuid4().hex,
        "tags": [],
        "visualizations": [{"type": "json", "uri": f"{uri}/data.json"}],
        "save_type": "step_output",
        "metadata": value,
        "item_count": 5 if name == "produce" else None,
    }


def step_body(world: World, run_id: str, name: str, inputs: dict) -> dict:
    return {
        "project": world.project,
        "name": name,
        "start_time": now_iso(),
        "end_time": None,
        "status": "running",
        "cache_key": uuid.uuid4().hex,
        "cache_expires_at": None,
        "code_hash": None,
        "docstring": None,
        "source_code": f"@step\ndef {name}(...):\n    ...\n",
        "pipeline_run_id": run_id,
        "original_step_run_id": None,
        "parent_step_ids": [],
        "inputs": inputs,
        "outputs": {},
        "logs": None,
        "exception_info": None,
        "dynamic_config": None,
        "resource_requester": None,
        "resource_request_runtime": None,
    }


def create_run(api: Http, world: World) -> str:
    body = {
        "project": world.project,
        "name": f"bench_pipeline-{uuid.uuid4().hex}",
        "snapshot": world.snapshot,
        "orchestrator_run_id": str(uuid.uuid4()),
        "start_time": now_iso(),
        "end_time": None,
        "status": "running",
        "status_reason": None,
        "orchestrator_environment": {},
        "trigger_info": None,
        "tags": None,
        "logs": None,
        "exception_info": None,
        "original_run_id": None,
        "parent_run_id": None,
        "child_key": None,
    }
    created = api.json("POST", "/api/v1/runs", body)
    return (created[0] if isinstance(created, list) else created)["id"]


def record_step(api: Http, world: World, run_id: str, name: str, inputs: dict, metadata: dict) -> str:
    step_id = api.json("POST", "/api/v1/steps", step_body(world, run_id, name, inputs))["id"]
    versions = api.json("POST", "/api/v1/artifact_versions/batch", [artifact_item(world, name, step_id, metadata)])
    output = versions[0]["id"]
    api.json(
        "PUT",
        f"/api/v1/steps/{step_id}",
        {"outputs": {"output": [output]}, "status": "completed", "end_time": now_iso()},
    )
    return output


MODEL_KINDS = ("linear", "tree", "forest", "boosted", "network")


def log_run_metadata(api: Http, world: World, run_id: str, number: int) -> None:
    """What `log_metadata(metadata={"accuracy": ..., "model_kind": ...}, run_id_name_or_prefix=run)`
    sends (Client.create_run_metadata, RunMetadataRequest). Accuracies spread evenly over 0..1
    (by the run's number, so every server gets the same ones): 1 run in 10 is above 0.9."""
    accuracy = round((number * 0.6180339887) % 1, 4)
    body = {
        "project": world.project,
        "resources": [{"id": run_id, "type": "pipeline_run"}],
        "stack_component_id": None,
        "values": {"accuracy": accuracy, "model_kind": MODEL_KINDS[number % len(MODEL_KINDS)]},
        "types": {"accuracy": "float", "model_kind": "str"},
        "publisher_step_id": None,
    }
    api.json("POST", "/api/v1/run-metadata", body)


def seed_one(api: Http, world: World, number: int) -> str:
    run_id = create_run(api, world)
    produced = record_step(api, world, run_id, "produce", {}, {"storage_size": 15, "length": 5})
    record_step(api, world, run_id, "consume", {"xs": [produced]}, {"storage_size": 2, "string_representation": "10"})
    log_run_metadata(api, world, run_id, number)
    return run_id


def discover(server: Server, token: str) -> World:
    api = Http(server.port, token)
    runs = api.json("GET", "/api/v1/runs?" + urlencode({"sort_by": "desc:created", "size": 1, "hydrate": "True"}))
    run = runs["items"][0]
    run_id = run["id"]
    detail = api.json("GET", f"/api/v1/runs/{run_id}?hydrate=True&include_full_metadata=False")
    snapshot = dig(detail.get("resources"), "snapshot") or dig(detail, "snapshot")
    project = dig(run, "project_id")
    versions = api.json(
        "GET", "/api/v1/artifact_versions?" + urlencode({"size": 1, "hydrate": "True", "project": project})
    )
    artifact_store = dig(versions["items"][0], "artifact_store_id")
    api.close()
    _, out = run_client(server, "--queries")
    queries = [line.split(" ", 2)[2] for line in out.splitlines() if line.startswith("QUERY GET ")]
    listing = next(q for q in queries if "/api/v1/artifact_versions?" in q)
    path = listing[listing.index("/api/v1/") :]
    return World(project, run_id, snapshot["id"] if isinstance(snapshot, dict) else snapshot, artifact_store, path)


def seed(server: Server, runs: int, concurrency: int = 8) -> tuple[World, dict, list[str]]:
    """The first run by the real client, the rest through the REST API; figures of the seeding
    and the ids of the runs made over the API (the ones bench/replicate.py copies)."""
    first_s, _ = run_client(server)
    token = login(server.port)
    world = discover(server, token)
    remaining = runs - 1
    start = time.perf_counter()
    local = threading.local()

    def one(number):
        if not hasattr(local, "api"):
            local.api = Http(server.port, token)
        return seed_one(local.api, world, number)

    seeded = []
    with ThreadPoolExecutor(concurrency) as pool:
        for done, run_id in enumerate(pool.map(one, range(1, runs)), 1):
            seeded.append(uuid.UUID(run_id).hex)
            if done % 200 == 0:
                print(f"    {server.name}: {done + 1}/{runs} runs", flush=True)
    seconds = time.perf_counter() - start
    print(f"    {server.name}: seeded {runs} runs in {first_s + seconds:.0f} s", flush=True)
    return (
        world,
        {
            "runs": runs,
            "first_run_by_client_s": round(first_s, 2),
            "rest_runs_per_s": round(remaining / max(seconds, 1e-9), 1),
        },
        seeded,
    )


# --- measuring ----------------------------------------------------------------------------------


def recorded_queries() -> dict[str, str]:
    """The client's exact list queries as recorded from the real client (wire.md), by name."""
    found = {}
    for line in RECORDING.read_text().splitlines():
        exchange = json.loads(line)
        if exchange["method"] != "GET":
            continue
        step, path, query = exchange["scenario_step"], exchange["path"], exchange["query"]
        if step == "12-runs-list" and path == "/api/v1/runs":
            found["runs"] = query
        elif step == "07-auth-api-key-env" and path == "/api/v1/pipelines":
            found["pipelines"] = query
        elif step == "13-run-show" and path == "/api/v1/steps":
            found["steps"] = query
        elif step == "13-run-show" and path.startswith("/api/v1/runs/"):
            found["run detail"] = query
    missing = {"runs", "pipelines", "steps", "run detail"} - found.keys()
    if missing:
        raise SystemExit(f"{RECORDING}: no recorded {sorted(missing)}")
    return found


def list_queries(world: World, kind: str = "zenml") -> dict[str, str]:
    recorded = recorded_queries()

    def build(path: str, query: dict, **changes) -> str:
        pairs = []
        for key, values in query.items():
            for value in values:
                if key == "project":
                    value = world.project
                elif key == "pipeline_run_id":
                    value = world.run
                pairs.append((key, changes.pop(key, value)))
        pairs += changes.items()
        return f"{path}?{urlencode(pairs)}"

    runs = recorded["runs"]
    # The run metadata filter and sort of the client's runs list (`run_metadata=key:op:value`
    # is ZenML's filter; ZenML compares the JSON text, MLMeta the number). Sorting by a metadata
    # value is MLMeta's only (ZenML answers 422).
    metadata = {"runs metadata filter": build("/api/v1/runs", runs, run_metadata="accuracy:gt:0.9")}
    if kind == "mlmeta":
        metadata["runs by metadata"] = build("/api/v1/runs", runs, sort_by="desc:run_metadata:accuracy")
    return {
        "runs page 20": build("/api/v1/runs", runs),
        "runs page 100": build("/api/v1/runs", runs, size="100"),
        "runs page 20 hydrated": build("/api/v1/runs", runs, hydrate="True"),
        "runs page 100 hydrated": build("/api/v1/runs", runs, size="100", hydrate="True"),
        "pipelines": build("/api/v1/pipelines", recorded["pipelines"]),
        "artifact versions": world.artifact_versions_query,
        "steps of a run": build("/api/v1/steps", recorded["steps"]),
        "run detail": build(f"/api/v1/runs/{world.run}", recorded["run detail"]),
        **metadata,
    }


def summarise(timings: list[float]) -> dict:
    timings = sorted(timings)
    return {
        "median_ms": round(statistics.median(timings), 2),
        "p90_ms": round(timings[max(0, int(len(timings) * 0.9) - 1)], 2),
        "n": len(timings),
        "over_nagle": sum(t > NAGLE_MS for t in timings),
    }


def tree_cpu(pid: int):
    """A function giving the CPU seconds (user + system) used so far by the process tree of pid.
    Unlike wall time it hardly moves with other load on the machine, so it is the figure to
    compare on a busy machine. It leaves out a database server's own processes (PostgreSQL,
    MariaDB); SQLite's work is inside the server process and counted."""
    root = psutil.Process(pid)

    def total() -> float:
        # The root's children_* times keep the CPU of workers that exited (gunicorn recycles
        # a worker after max_requests), so a long throughput run loses none.
        times = root.cpu_times()
        seconds = times.user + times.system + times.children_user + times.children_system
        for proc in root.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                seconds += times.user + times.system
        return seconds

    return total


def time_get(api: Http, path: str, repeat: int, warmup: int = 3, cpu=None, budget_s: float = 30) -> dict:
    """Median etc. of `repeat` sequential GETs; a slow query is asked fewer times (at least 5)
    so that it takes about `budget_s` at most."""
    start = time.perf_counter()
    status, headers, payload = api.request("GET", path)
    first_s = time.perf_counter() - start
    if status != 200:
        raise RuntimeError(f"GET {path} -> {status}: {payload[:300]!r}")
    if first_s * (repeat + warmup) > budget_s:
        warmup, repeat = 1, max(5, min(repeat, int(budget_s / max(first_s, 1e-3))))
    for _ in range(warmup):
        api.request("GET", path)
    timings = []
    cpu_start = cpu() if cpu else 0
    for _ in range(repeat):
        start = time.perf_counter()
        api.request("GET", path)
        timings.append((time.perf_counter() - start) * 1000)
    figures = summarise(timings)
    if cpu:
        figures["server_cpu_ms"] = round((cpu() - cpu_start) * 1000 / repeat, 2)
    figures["bytes"] = len(payload)
    if "X-MLMeta-Queries" in headers:
        figures["queries"] = int(headers["X-MLMeta-Queries"])
    return figures


def time_writes(api: Http, world: World, repeat: int) -> dict:
    """POST /steps (into a fresh run each, as the client makes one step per name and run) and
    POST /artifact_versions/batch with one item (the client's shape), each timed alone."""
    steps, batches, queries = [], [], {}
    for _ in range(repeat):
        run_id = create_run(api, world)
        start = time.perf_counter()
        status, headers, payload = api.request("POST", "/api/v1/steps", step_body(world, run_id, "produce", {}))
        steps.append((time.perf_counter() - start) * 1000)
        if status >= 400:
            raise RuntimeError(f"POST /steps -> {status}: {payload[:300]!r}")
        queries["step create"] = headers.get("X-MLMeta-Queries")
        step_id = json.loads(payload)["id"]
        item = artifact_item(world, "produce", step_id, {"storage_size": 15, "length": 5})
        start = time.perf_counter()
        status, headers, payload = api.request("POST", "/api/v1/artifact_versions/batch", [item])
        batches.append((time.perf_counter() - start) * 1000)
        if status >= 400:
            raise RuntimeError(f"POST /artifact_versions/batch -> {status}: {payload[:300]!r}")
        queries["artifact batch create"] = headers.get("X-MLMeta-Queries")
    result = {"step create": summarise(steps), "artifact batch create": summarise(batches)}
    for name, count in queries.items():
        if count is not None:
            result[name]["queries"] = int(count)
    return result


def throughput(port: int, token: str | None, path: str, clients: int, seconds: float, cpu=None) -> dict:
    """Requests answered by `clients` concurrent keep-alive connections in `seconds`."""
    cpu_start = cpu() if cpu else 0
    deadline = time.perf_counter() + seconds
    counts, errors, timings = [0] * clients, [0] * clients, [[] for _ in range(clients)]

    def worker(index: int) -> None:
        api = Http(port, token)
        while (start := time.perf_counter()) < deadline:
            status, _, _ = api.request("GET", path)
            timings[index].append((time.perf_counter() - start) * 1000)
            if status == 200:
                counts[index] += 1
            else:
                errors[index] += 1
        api.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    elapsed = time.perf_counter() - start
    merged = [t for chunk in timings for t in chunk]
    cpu_ms = round((cpu() - cpu_start) * 1000 / max(sum(counts), 1), 2) if cpu else None
    return {
        "server_cpu_ms_per_request": cpu_ms,
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests_per_s": round(sum(counts) / elapsed, 1),
        "errors": sum(errors),
        "latency_under_load": summarise(merged) if merged else None,
    }


def frame_name(frame: str) -> str:
    """`render (mlmeta/api/envelopes/runs.py:88)` -> `render (mlmeta/api/envelopes/runs.py)`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", f"{ROOT}/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name


def profile(server: Server, token: str, path: str, seconds: float) -> dict:
    """py-spy samples the server's processes while 4 clients ask for `path`; the functions with
    the largest share of samples, inclusive and self, written beside the JSON."""
    raw = server.home / "profile.raw"
    spy = subprocess.Popen(
        [
            *(str(BENCH_VENV / "bin" / "py-spy"), "record", "--pid", str(server.process.pid), "--subprocesses"),
            *(
                "--rate",
                "200",
                "--duration",
                str(int(seconds)),
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
            ),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1)
    throughput(server.port, token, path, 4, seconds - 1)
    _, err = spy.communicate(timeout=seconds + 60)
    if not raw.exists():
        return {"error": err.decode(errors="replace")[-500:]}
    inclusive, own, total = {}, {}, 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [frame_name(f) for f in stack.split(";") if " (" in f]
        total += int(count)
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + int(count)
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + int(count)

    def top(counts: dict, n: int) -> list[str]:
        ranked = sorted(counts.items(), key=lambda item: -item[1])[:n]
        return [f"{100 * c / max(total, 1):5.1f}%  {name}" for name, c in ranked]

    return {"samples": total, "path": path, "inclusive": top(inclusive, 40), "self": top(own, 25)}


def pipeline_wall(server: Server, times: int) -> dict:
    walls = [run_client(server)[0] for _ in range(times)]
    return {"median_s": round(statistics.median(walls), 2), "all_s": [round(w, 2) for w in walls]}


def dashboard_pages(world: World) -> dict[str, str]:
    """MLMeta's server-rendered dashboard pages (ZenML's dashboard renders in the browser)."""
    return {"dashboard runs list": "/runs/", "dashboard run page": f"/runs/{world.run}/"}


def measure(server: Server, world: World, args) -> dict:
    token = login(server.port)
    api = Http(server.port, token)
    result = {"lists": {}}
    cpu = tree_cpu(server.process.pid)
    for name, path in list_queries(world, server.kind).items():
        try:
            result["lists"][name] = time_get(api, path, args.repeat, cpu=cpu)
        except RuntimeError as exc:  # e.g. a query this server does not answer (yet): recorded
            print(f"   {server.name} {name}: {exc}", flush=True)
            result["lists"][name] = {"error": str(exc)[:500]}
    if server.kind == "mlmeta":
        try:
            pages = Http(server.port, cookie=dashboard_cookie(server.port))
            for name, path in dashboard_pages(world).items():
                result["lists"][name] = time_get(pages, path, args.repeat, cpu=cpu)
            pages.close()
        except RuntimeError as exc:
            print(f"   {server.name} dashboard: {exc}", flush=True)
            result["lists"]["dashboard runs list"] = {"error": str(exc)[:500]}
    result.update(time_writes(api, world, max(10, args.repeat // 2)))
    api.close()
    runs_page = list_queries(world)["runs page 20"]
    result["throughput"] = throughput(server.port, token, runs_page, args.clients, args.seconds, cpu)
    result["pipeline_wall"] = pipeline_wall(server, args.pipelines)
    if args.profile:
        result["profile"] = profile(server, token, runs_page, args.profile)
    return result


def snapshot(server: Server) -> str:
    """A copy of an MLMeta server's database as it is now (before growing it), with fresh planner
    statistics; returns its URL."""
    if server.database["dialect"] == "postgres":
        copy = f"{DATABASES['postgres']}_small"
        psql = ["-h", "127.0.0.1", "-U", "postgres"]
        subprocess.run(["dropdb", "--if-exists", "--force", *psql, copy], check=True)
        subprocess.run(["createdb", *psql, copy], check=True)
        dump = subprocess.run(["pg_dump", *psql, DATABASES["postgres"]], check=True, capture_output=True).stdout
        subprocess.run(["psql", "-q", *psql, copy], input=dump, check=True, capture_output=True)
        subprocess.run(["psql", "-q", *psql, "-c", "VACUUM ANALYZE", copy], check=True, capture_output=True)
        return f"{POSTGRES}/{copy}"
    path = WORK / f"{server.name}-small.sqlite3"
    path.unlink(missing_ok=True)
    source, target = sqlite3.connect(server.database["path"]), sqlite3.connect(path)
    with source, target:
        source.backup(target)
    source.close()
    target.close()
    return f"sqlite:///{path}"


def interleaved(small: Server, large: Server, world: World, repeat: int, warmup: int = 3) -> dict:
    """The scaling figure without the machine's drift: the same MLMeta at both sizes (the large
    one grown from a copy of the small), each GET of one followed by the same GET of the other,
    which one goes first alternating. Median ms of each and their ratio (large / small)."""
    apis = {server.name: Http(server.port, login(server.port)) for server in (small, large)}
    pages = {server.name: Http(server.port, cookie=dashboard_cookie(server.port)) for server in (small, large)}
    out = {}
    try:
        for name, path in {**list_queries(world, "mlmeta"), **dashboard_pages(world)}.items():
            clients = pages if name.startswith("dashboard") else apis
            timings = {small.name: [], large.name: []}
            for turn in range(warmup + repeat):
                for server in (small, large) if turn % 2 else (large, small):
                    start = time.perf_counter()
                    status, _, payload = clients[server.name].request("GET", path)
                    elapsed = (time.perf_counter() - start) * 1000
                    if status != 200:
                        raise RuntimeError(f"{server.name} GET {path} -> {status}: {payload[:300]!r}")
                    if turn >= warmup:
                        timings[server.name].append(elapsed)
            a, b = summarise(timings[small.name]), summarise(timings[large.name])
            out[name] = {
                "small_ms": a["median_ms"],
                "large_ms": b["median_ms"],
                "ratio": ratio(a["median_ms"], b["median_ms"]),
            }
    finally:
        for client in (*apis.values(), *pages.values()):
            client.close()
    return out


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def settle(quiet_percent: float = 15, quiet_seconds: int = 3, limit: float = 120) -> float:
    """Flush dirty pages and wait until the machine's CPU has been under `quiet_percent` for
    `quiet_seconds` in a row (at most `limit` s): after growing a database by 100,000 runs the
    kernel's writeback and the database's own background writes otherwise fall into the first
    figures of the next scale. Returns the seconds waited."""
    start = time.monotonic()
    os.sync()
    quiet = 0
    while quiet < quiet_seconds and time.monotonic() - start < limit:
        quiet = quiet + 1 if psutil.cpu_percent(interval=1) < quiet_percent else 0
    return round(time.monotonic() - start, 1)


@dataclass
class Prepared:
    name: str
    server: Server
    memory: MemorySampler
    idle_rss: int
    world: World | None = None
    seeding: dict | None = None
    seeded: list[str] = field(default_factory=list)

    def stop(self) -> None:
        self.memory.stopped.set()
        self.memory.join()
        self.server.stop()


def prepare(name: str, args) -> Prepared:
    """Start the target's server and seed it to the first scale (the targets do this at the same time)."""
    kind, database = name.split("-", 1)
    print(f"== {name}: starting", flush=True)
    started = time.perf_counter()
    server = start_zenml(name, database) if kind == "zenml" else start_mlmeta(name, database)
    memory = MemorySampler(server.process.pid)
    prepared = Prepared(name, server, memory, memory.sample()[0])
    memory.start()
    try:
        up = time.perf_counter() - started
        print(f"   {name}: up in {up:.1f} s on {server.url}; seeding {args.scales[0]} runs", flush=True)
        prepared.world, prepared.seeding, prepared.seeded = seed(server, args.scales[0])
        if server.kind == "mlmeta":
            refresh_statistics(server)
    except BaseException:
        prepared.stop()
        raise
    return prepared


def sanity(server: Server, world: World, replicator: Replicator) -> dict:
    """After growing: the runs list's total and its last page, a copied run and its steps, over HTTP."""
    api = Http(server.port, login(server.port))
    try:
        real = replicator.count_runs()
        query = {"project": world.project, "size": 20, "sort_by": "desc:created"}
        first = api.json("GET", "/api/v1/runs?" + urlencode(query))
        # MLMeta counts exactly up to 1,000 rows (then PostgreSQL's estimate, SQLite's 1,001):
        # above, the total is at least the limit + 1.
        exact_limit = 1_000 if server.kind == "mlmeta" else 0
        estimated = exact_limit and real > exact_limit
        total_ok = first["total"] >= exact_limit + 1 if estimated else first["total"] == real
        # The page the total names last (past the real end when an estimate is too high: a 400
        # naming the real count, as documented), and the real last page, which must answer.
        reported_status, _, _ = api.request("GET", "/api/v1/runs?" + urlencode(dict(query, page=first["total_pages"])))
        last = -(-real // query["size"])
        status, _, payload = api.request("GET", "/api/v1/runs?" + urlencode(dict(query, page=last)))
        last_items = len(json.loads(payload)["items"]) if status == 200 else None
        copy = str(uuid.UUID(replicator.a_copy()))
        detail_status, _, _ = api.request("GET", f"/api/v1/runs/{copy}?hydrate=True&include_full_metadata=False")
        steps = api.json("GET", "/api/v1/steps?" + urlencode({"pipeline_run_id": copy, "project": world.project}))
        found = {
            "runs": real,
            "total_reported": first["total"],
            "total_ok": total_ok,
            "reported_last_page": first["total_pages"],
            "reported_last_page_status": reported_status,
            "last_page": last,
            "last_page_status": status,
            "last_page_items": last_items,
            "copied_run": copy,
            "copied_run_status": detail_status,
            "copied_run_steps": steps["total"],
        }
    finally:
        api.close()
    found["ok"] = (
        total_ok and status == 200 and bool(last_items) and detail_status == 200 and found["copied_run_steps"] == 2
    )
    print(f"   {server.name}: {'sane' if found['ok'] else 'NOT SANE'}: {found}", flush=True)
    return found


def bench_target(prepared: Prepared, args) -> tuple[dict, bytes | None, str]:
    """Measure a prepared target at each scale (alone: the others are idle), growing its database
    between scales by SQL (bench/replicate.py), then stop it."""
    name, server, world = prepared.name, prepared.server, prepared.world
    result = {"server": server.notes, "seeding": prepared.seeding, "scales": {}}
    body = None
    runs_page = list_queries(world)["runs page 20"]
    replicator = None
    small = None  # a copy of an MLMeta database at the first scale, for `interleaved`
    try:
        for number, scale in enumerate(args.scales):
            at = result["scales"][str(scale)] = {}
            if number:
                if server.kind == "mlmeta" and small is None:
                    small = snapshot(server)
                print(f"\n== {name}: growing to {scale} runs by SQL (load {load()})", flush=True)
                if replicator is None:
                    database = Database(**server.database)
                    replicator = Replicator(database, server.kind, prepared.seeded)
                at["replication"] = replicator.grow(scale, say=lambda line: print(f"   {name}:{line}", flush=True))
                at["sanity"] = sanity(server, world, replicator)
                if server.kind == "mlmeta":  # as beat would within ten minutes of such growth
                    refresh_statistics(server)
            at["settled_s"] = settle()
            print(f"\n== {name}: measuring at {scale} runs (load {load()}, settled in {at['settled_s']} s)", flush=True)
            before = load()
            try:
                at.update(measure(server, world, args))
            except (Exception, SystemExit) as exc:  # a failing scale keeps the ones measured
                print(f"   {name} at {scale} FAILED: {exc}", flush=True)
                at["error"] = str(exc)[:2000]
                break
            finally:
                at["memory"] = {"idle_rss_tree_mb": round(prepared.idle_rss / 2**20, 1), **prepared.memory.figures()}
                prepared.memory.reset()
                at.update(load_before=before, load_after=load())
            if server.kind == "mlmeta" and body is None:
                api = Http(server.port, login(server.port))
                _, _, body = api.request("GET", runs_page)
                api.close()
        if small is not None and "error" not in at:
            result["interleaved"] = measure_interleaved(prepared, small, args)
    finally:
        if replicator is not None:
            replicator.db.close()
        prepared.stop()
    return result, body, runs_page


def measure_interleaved(prepared: Prepared, small_url: str, args) -> dict:
    """`interleaved` between the grown server and a second one started on the snapshot."""
    name, server = prepared.name, prepared.server
    print(f"\n== {name}: at {args.scales[0]} and {args.scales[-1]} runs, interleaved", flush=True)
    small = start_mlmeta(f"{name}-small", server.database["dialect"], existing=small_url)
    try:
        settle()
        return {
            "scales": [args.scales[0], args.scales[-1]],
            "lists": interleaved(small, server, prepared.world, args.repeat),
        }
    except (Exception, SystemExit) as exc:
        print(f"   {name} interleaved FAILED: {exc}", flush=True)
        return {"error": str(exc)[:2000]}
    finally:
        small.stop()


def bench_floor(body: bytes, path: str, args) -> dict:
    print("\n== floor: pre-built MLMeta runs page from gunicorn + bare Django", flush=True)
    server = start_floor(body)
    memory = MemorySampler(server.process.pid)
    memory.start()
    try:
        api = Http(server.port)
        cpu = tree_cpu(server.process.pid)
        result = {"lists": {"runs page 20": time_get(api, path, args.repeat, cpu=cpu)}}
        api.close()
        result["throughput"] = throughput(server.port, None, path, args.clients, args.seconds, cpu)
    finally:
        memory.stopped.set()
        memory.join()
        server.stop()
    result.update(server=server.notes, memory=memory.figures(), load_after=load())
    return result


# --- report -------------------------------------------------------------------------------------


def ratio(mine, theirs, lower_is_better: bool = True):
    if not mine or not theirs:
        return None
    return round(theirs / mine if lower_is_better else mine / theirs, 2)


def scale_label(scale) -> str:
    scale = int(scale)
    return f"{scale // 1000}k" if scale >= 1000 and scale % 1000 == 0 else str(scale)


def at_scale(results: dict, scale: str) -> dict[str, dict]:
    """The figures of every target measured at `scale`, by target."""
    return {
        name: target["scales"][scale]
        for name, target in results["targets"].items()
        if scale in target.get("scales", {}) and "lists" in target["scales"][scale]
    }


def median(figures: dict, name: str):
    return figures.get("lists", {}).get(name, {}).get("median_ms")


def table(columns: dict[str, dict]) -> list[str]:
    names = []
    for figures in columns.values():
        names += [n for n in figures.get("lists", {}) if n not in names]

    def listed(name: str, key: str):
        def get(figures: dict):
            entry = figures.get("lists", {}).get(name)
            if entry is None:
                return None
            return "error" if "error" in entry else entry.get(key)

        return get

    metrics = []
    for name in names:
        metrics.append((f"{name} median ms", listed(name, "median_ms")))
        metrics.append((f"{name} p90 ms", listed(name, "p90_ms")))
        metrics.append((f"{name} server CPU ms", listed(name, "server_cpu_ms")))
    for name in ("step create", "artifact batch create"):
        metrics.append((f"{name} median ms", lambda r, n=name: r.get(n, {}).get("median_ms")))
        metrics.append((f"{name} p90 ms", lambda r, n=name: r.get(n, {}).get("p90_ms")))
    metrics += [
        ("runs page 20 req/s, 8 clients", lambda r: (r.get("throughput") or {}).get("requests_per_s")),
        ("  server CPU ms per request", lambda r: (r.get("throughput") or {}).get("server_cpu_ms_per_request")),
        ("pipeline wall s (median)", lambda r: r.get("pipeline_wall", {}).get("median_s")),
        ("peak RSS tree MB", lambda r: r.get("memory", {}).get("peak_rss_tree_mb")),
        ("peak RSS largest proc MB", lambda r: r.get("memory", {}).get("peak_rss_largest_process_mb")),
        ("processes", lambda r: r.get("memory", {}).get("processes")),
    ]
    rows = [("", *columns)]
    for label, get in metrics:
        rows.append((label, *(("" if get(c) is None else str(get(c))) for c in columns.values())))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return lines


def report(results: dict) -> str:
    lines = []
    for scale in map(str, results["scales"]):
        columns = at_scale(results, scale)
        if scale == str(results["scales"][0]) and "floor" in results:
            columns["floor"] = results["floor"]
        if not columns:
            continue
        lines += [f"At {int(scale):,} runs:", *table(columns), ""]
        for name, target in results["targets"].items():
            grown = target.get("scales", {}).get(scale, {})
            if "replication" in grown:
                copied = grown["replication"]
                sane = grown.get("sanity", {})
                lines.append(
                    f"  {name}: grown by {copied['copied_runs']:,} copied runs in {copied['seconds']} s"
                    f" (copy {copied.get('copy_s')} s); sanity {'ok' if sane.get('ok') else 'FAILED: ' + str(sane)}"
                )
        queries = []
        for name, figures in columns.items():
            if not name.startswith("mlmeta"):
                continue
            named = [*figures["lists"].items()]
            named += [(n, figures[n]) for n in ("step create", "artifact batch create") if n in figures]
            queries += [f"  {name} {n}: {f.get('queries')}" for n, f in named if "error" not in f]
        if queries:
            lines += ["", "SQL queries per request (MLMeta):", *queries, ""]
    if results["ratios"]:
        lines.append("Ratios (ZenML/MLMeta latency and MLMeta/ZenML throughput; > 1 means MLMeta is better):")
    for pair, figures in results["ratios"].items():
        lines.append(f"  {pair}:")
        lines += [f"    {label:34} {value}" for label, value in figures.items()]
    if results["scaling"]:
        lines += ["", "Scaling (latency at the larger scale / at the smaller; MLMeta's target: <= 1.5):"]
        for pair, figures in results["scaling"].items():
            lines.append(f"  {pair}:")
            lines += [f"    {label:34} {value}" for label, value in figures.items()]
    for name, target in results["targets"].items():
        both = target.get("interleaved", {})
        if "lists" in both:
            small, large = (scale_label(s) for s in both["scales"])
            lines += ["", f"Scaling, interleaved ({name} at {small} and at {large} runs at once, GETs alternating):"]
            lines.append(f"    {'':34} {'at ' + small:>9} {'at ' + large:>9} {'ratio':>6}")
            for query, figures in both["lists"].items():
                lines.append(f"    {query:34} {figures['small_ms']:9} {figures['large_ms']:9} {figures['ratio']:6}")
    return "\n".join(lines)


def ratios(results: dict) -> dict:
    out = {}
    pairs = [
        ("mlmeta-postgres", "zenml-mariadb"),
        ("mlmeta-sqlite", "zenml-sqlite"),
        ("mlmeta-postgres", "zenml-sqlite"),
    ]
    for scale in map(str, results["scales"]):
        targets = at_scale(results, scale)
        for mine, theirs in pairs:
            if mine not in targets or theirs not in targets:
                continue
            a, b = targets[mine], targets[theirs]
            figures = {}
            for name in a["lists"]:
                if name not in b["lists"]:
                    continue
                figures[f"{name} median"] = ratio(median(a, name), median(b, name))
                figures[f"{name} server CPU"] = ratio(
                    a["lists"][name].get("server_cpu_ms"), b["lists"][name].get("server_cpu_ms")
                )
            for name in ("step create", "artifact batch create"):
                figures[f"{name} median"] = ratio(a.get(name, {}).get("median_ms"), b.get(name, {}).get("median_ms"))
            figures["throughput"] = ratio(
                (a.get("throughput") or {}).get("requests_per_s"),
                (b.get("throughput") or {}).get("requests_per_s"),
                False,
            )
            figures["pipeline wall"] = ratio(a["pipeline_wall"]["median_s"], b["pipeline_wall"]["median_s"])
            figures["peak RSS largest process"] = ratio(
                a["memory"]["peak_rss_largest_process_mb"], b["memory"]["peak_rss_largest_process_mb"]
            )
            out[f"{scale_label(scale)}: {mine} vs {theirs}"] = figures
    return out


def scaling(results: dict) -> dict:
    """Each target's latency at its largest measured scale over its first: 1.0 is no slower."""
    out = {}
    first = str(results["scales"][0])
    for name, target in results["targets"].items():
        measured = [s for s in map(str, results["scales"]) if "lists" in target.get("scales", {}).get(s, {})]
        if len(measured) < 2 or measured[0] != first:
            continue
        small, large = target["scales"][first], target["scales"][measured[-1]]
        figures = {}
        for query in small["lists"]:
            if median(small, query) and median(large, query):
                figures[f"{query} median"] = ratio(median(small, query), median(large, query))
                figures[f"{query} server CPU"] = ratio(
                    small["lists"][query].get("server_cpu_ms"), large["lists"][query].get("server_cpu_ms")
                )
        for query in ("step create", "artifact batch create"):
            if query in small and query in large:
                figures[f"{query} median"] = ratio(small[query]["median_ms"], large[query]["median_ms"])
        figures["runs page 20 req/s, then / now"] = ratio(
            (large.get("throughput") or {}).get("requests_per_s"),
            (small.get("throughput") or {}).get("requests_per_s"),
        )
        figures["pipeline wall"] = ratio(small["pipeline_wall"]["median_s"], large["pipeline_wall"]["median_s"])
        out[f"{name} at {scale_label(measured[-1])} / at {scale_label(first)}"] = figures
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scales",
        default="1000",
        help="comma-separated run counts, e.g. 1000,100000: each server is seeded over the API to the first,"
        " measured, then grown by SQL copies to the next and measured again (default 1000)",
    )
    parser.add_argument("--runs", type=int, help="one scale: the same as --scales RUNS")
    parser.add_argument(
        "--targets", default=",".join(ALL_TARGETS), help=f"comma-separated, of {', '.join(ALL_TARGETS)}"
    )
    parser.add_argument("--repeat", type=int, default=50, help="timed requests per query (default 50)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for the throughput (default 8)")
    parser.add_argument("--seconds", type=float, default=20, help="throughput duration (default 20)")
    parser.add_argument("--pipelines", type=int, default=3, help="timed pipeline runs by the real client (default 3)")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor measurement")
    parser.add_argument(
        "--postgres-db", default=DATABASES["postgres"], help="MLMeta's PostgreSQL database, dropped and made anew"
    )
    parser.add_argument(
        "--mariadb-db", default=DATABASES["mariadb"], help="ZenML's MariaDB database, dropped and made anew"
    )
    parser.add_argument(
        "--profile",
        type=float,
        default=0,
        metavar="SECONDS",
        help="then profile the runs page with py-spy (default off)",
    )
    args = parser.parse_args()
    try:
        args.scales = [args.runs] if args.runs else [int(s) for s in args.scales.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--scales: whole numbers, not {args.scales!r}")
    if not args.scales or args.scales != sorted(set(args.scales)) or args.scales[0] < 2:
        parser.error("--scales: increasing run counts, the first at least 2")
    DATABASES.update(postgres=args.postgres_db, mariadb=args.mariadb_db)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(targets) - set(ALL_TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}")
    if not (ZENML_VENV / "bin" / "python").exists():
        raise SystemExit(f"{ZENML_VENV} is missing: `make {ZENML_VENV.name}/.installed`")

    results = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "scales": args.scales,
        "machine": {"cpus": os.cpu_count(), "load_at_start": load()},
        "settings": vars(args),
        "targets": {},
    }
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = out_dir / f"compare-{'-'.join(map(str, args.scales))}-{stamp}.json"

    def save() -> None:
        results["ratios"] = ratios(results)
        results["scaling"] = scaling(results)
        out.write_text(json.dumps(results, indent=1))

    def on_term(*_):
        print("stopping the servers", flush=True)
        for server in STARTED:
            with contextlib.suppress(Exception):
                server.stop()
        os._exit(130)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    floor_input = None
    phases = results["phases_s"] = {}
    # Start and seed every target at once (seeding is most of the time), then measure them one
    # after the other while the rest sit idle.
    prepared: dict[str, Prepared] = {}
    started = time.perf_counter()
    with ThreadPoolExecutor(len(targets)) as pool:
        futures = {name: pool.submit(prepare, name, args) for name in targets}
        for name, future in futures.items():
            try:
                prepared[name] = future.result()
            except (Exception, SystemExit) as exc:
                print(f"   {name} FAILED: {exc}", flush=True)
                results["targets"][name] = {"error": str(exc)[:2000]}
    phases["start and seed (all targets at once)"] = round(time.perf_counter() - started, 1)
    try:
        for name in targets:
            if name not in prepared:
                continue
            started = time.perf_counter()
            try:
                result, body, runs_page = bench_target(prepared.pop(name), args)
            except (Exception, SystemExit) as exc:  # one failing server must not lose the others' figures
                print(f"   {name} FAILED: {exc}", flush=True)
                results["targets"][name] = {"error": str(exc)[:2000]}
                continue
            finally:
                phases[name] = round(time.perf_counter() - started, 1)
            results["targets"][name] = result
            save()
            if body and floor_input is None:
                floor_input = (body, runs_page)
    finally:
        for left in prepared.values():
            left.stop()
    if floor_input and not args.no_floor:
        try:
            results["floor"] = bench_floor(*floor_input, args)
        except (Exception, SystemExit) as exc:
            print(f"   floor FAILED: {exc}", flush=True)
    results["machine"]["load_at_end"] = load()
    save()
    print("\n" + report(results))
    print(f"\nphases (s): {phases}")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
