"""The end-to-end harness: a real MLMeta server (migrate, bootstrap, gunicorn) in a subprocess on a
free loopback port, with a database and MLMETA_VAR_DIR of its own, and the real zenml client
(requirements-e2e.txt, installed into .venv-zenml by `make test`) run against it in subprocesses.

Without .venv-zenml these tests skip locally and fail in CI (CI=true). When an e2e test fails, the
server's log lines written during that test are attached to the report."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
ZENML_VENV = ROOT / os.environ.get("ZENML_VENV", ".venv-zenml")
ZENML_VERSION = "0.98.0"
SCRIPTS = Path(__file__).parent / "scripts"
ADMIN_USERNAME = "e2e-admin"
ADMIN_PASSWORD = "e2e-Correct-Horse-42"
MISMATCH_WARNING = "does not match the server version"
RESULT_PREFIX = "E2E_RESULT "
# gunicorn's access log: `... "GET /api/v1/x?y=1 HTTP/1.1" 404 23 ...`
ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" (?P<status>\d{3}) ')


def require(condition: bool, reason: str) -> None:
    """Skip locally, fail in CI: the e2e tests must never be skipped silently there."""
    if condition:
        return
    if IN_CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def fresh_database(tmp: Path) -> Iterator[str]:
    """A database URL of the server's own: a new PostgreSQL database beside DATABASE_URL's when
    that points at PostgreSQL (dropped afterwards), else a SQLite file under tmp."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield f"sqlite:///{tmp / 'mlmeta.sqlite3'}"
        return
    import psycopg
    from psycopg import sql

    name = f"mlmeta_e2e_{os.getpid()}"
    maintenance = urlparse(url)._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlparse(url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass
class Server:
    url: str
    log_path: Path
    process: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)
    tenants: dict[str, tuple[str, str]] = field(default_factory=dict)

    def log_offset(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")

    def manage(self, *args: str, input: str | None = None) -> str:
        """`manage.py ARGS` against the server's database and settings; its stdout, or the test fails."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, input=input, capture_output=True, text=True
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)}: rc={done.returncode}\n{done.stdout}{done.stderr}"
        return done.stdout

    def add_tenant(self, slug: str, username: str, password: str) -> str:
        """Tenant `slug` with member `username` (of no other tenant), made with the management
        commands an operator uses; the URL clients log in to it at. Made once per session: asking
        again for the same tenant and member (another test module) returns the same URL."""
        if slug not in self.tenants:
            self.manage("create_tenant", slug)
            self.manage("create_user", username, "--password", "-", "--tenant", slug, input=password)
            self.tenants[slug] = (username, password)
        assert self.tenants[slug] == (username, password), f"tenant {slug} was made with another member"
        return f"{self.url}/t/{slug}"

    def failed_requests(self, offset: int) -> list[str]:
        """Requests answered >= 400 since offset, without the 401 every client process gets
        before it sends its token (wire.md 3.1)."""
        found = []
        for match in ACCESS_LINE.finditer(self.log_since(offset)):
            if int(match["status"]) >= 400 and match["status"] != "401":
                found.append(f"{match['method']} {match['target']} -> {match['status']}")
        return found


# The running server and each test's start in its log, for the failure reports below.
SERVER = pytest.StashKey[Server]()
LOG_OFFSET = pytest.StashKey[int]()


def server_env(port: int, var_dir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENML_", "DJANGO_", "PYTEST_"))}
    # The embedded broker in the server's own var dir: no task of this server lands in a shared queue.
    env.pop("CELERY_BROKER_URL", None)
    env.pop("MLMETA_BROKER_OPTIONS", None)
    env.update(
        DATABASE_URL=database_url,
        MLMETA_VAR_DIR=str(var_dir),
        MLMETA_ADMIN_USERNAME=ADMIN_USERNAME,
        MLMETA_ADMIN_PASSWORD=ADMIN_PASSWORD,
        MLMETA_BIND=f"127.0.0.1:{port}",
        PORT=str(port),
        MLMETA_SERVER_URL=f"http://127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        PYTHONUNBUFFERED="1",
    )
    return env


def wait_healthy(server: Server, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.process.poll() is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    pytest.fail(f"MLMeta did not become healthy at {server.url}:\n{server.log_since(0)}", pytrace=False)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="session")
def mlmeta_server(request, tmp_path_factory) -> Iterator[Server]:
    """A running MLMeta with a fresh database, the default tenant and ADMIN_USERNAME."""
    tmp = tmp_path_factory.mktemp("mlmeta-server")
    port = free_port()
    server = Server(url=f"http://127.0.0.1:{port}", log_path=tmp / "server.log")
    request.config.stash[SERVER] = server
    with fresh_database(tmp) as database_url, server.log_path.open("ab") as log:
        env = server.env = server_env(port, tmp / "var", database_url)
        for command in (["migrate", "--noinput"], ["bootstrap"]):
            done = subprocess.run(
                [sys.executable, "manage.py", *command], cwd=ROOT, env=env, stdout=log, stderr=log, timeout=300
            )
            if done.returncode:
                pytest.fail(f"manage.py {command[0]} failed:\n{server.log_since(0)}", pytrace=False)
        server.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            wait_healthy(server, port)
            yield server
        finally:
            stop(server.process)


@dataclass(repr=False)
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    failed_requests: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Result({' '.join(self.args[1:])!r}, rc={self.returncode})"

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        failed = "\n".join(self.failed_requests) or "(none)"
        return (
            f"$ {' '.join(self.args)}\nrc={self.returncode}\n--- stdout\n{self.stdout[-6000:]}\n"
            f"--- stderr\n{self.stderr[-6000:]}\n--- requests the server answered >= 400\n{failed}"
        )

    def ok(self) -> "Result":
        assert self.returncode == 0, self.describe()
        return self

    @property
    def data(self):
        """The JSON a client script printed on its `E2E_RESULT ` line."""
        for line in self.stdout.splitlines():
            if line.startswith(RESULT_PREFIX):
                return json.loads(line[len(RESULT_PREFIX) :])
        raise AssertionError(f"no {RESULT_PREFIX!r} line in the output\n{self.describe()}")


@dataclass
class ZenmlClient:
    """One client installation: its own ZENML_CONFIG_PATH and local stores, logged in by env vars
    (ZENML_STORE_API_KEY when api_key is given, else ZENML_STORE_USERNAME/PASSWORD) to `url` (the
    server's root, i.e. its default tenant, unless given). With `store_env=False` no ZENML_STORE_*
    variable is set: the installation logs in with `zenml login` and keeps server and token in its
    config, as a user's does."""

    server: Server
    home: Path
    username: str = ADMIN_USERNAME
    password: str = ADMIN_PASSWORD
    api_key: str | None = None
    url: str | None = None
    store_env: bool = True

    def env(self) -> dict[str, str]:
        # No ZENML_* from outside, ZENML_DISABLE_CLIENT_SERVER_MISMATCH_WARNING included:
        # MLMeta must report the client's version, so the warning never shows.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENML_", "DJANGO_", "PYTEST_"))}
        env.pop("VIRTUAL_ENV", None)
        env.update(
            ZENML_CONFIG_PATH=str(self.home / "config"),
            ZENML_LOCAL_STORES_PATH=str(self.home / "stores"),
            ZENML_ANALYTICS_OPT_IN="false",
            ZENML_LOGGING_COLORS_DISABLED="true",
            ZENML_ENABLE_RICH_TRACEBACK="false",
            NO_COLOR="1",
            COLUMNS="200",
            PYTHONUNBUFFERED="1",
            # `zenml login` opens the verification URL with webbrowser, which runs $BROWSER: a no-op.
            BROWSER="true",
        )
        if not self.store_env:
            return env
        env["ZENML_STORE_URL"] = self.url or self.server.url
        if self.api_key:
            env["ZENML_STORE_API_KEY"] = self.api_key
        else:
            env.update(ZENML_STORE_USERNAME=self.username, ZENML_STORE_PASSWORD=self.password)
        return env

    def run(self, args: list[str], timeout: float, input: str | None = None) -> Result:
        offset = self.server.log_offset()
        try:
            # A session of its own: no controlling terminal, so prompts (getpass included) read stdin.
            done = subprocess.run(
                args,
                cwd=self.home,
                env=self.env(),
                input=input if input is not None else "",
                capture_output=True,
                text=True,
                timeout=timeout,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"timed out after {timeout}s: {' '.join(args)}\n{exc.stdout}\n{exc.stderr}", pytrace=False)
        result = Result(args, done.returncode, done.stdout, done.stderr, self.server.failed_requests(offset))
        assert MISMATCH_WARNING not in result.output, f"client/server version mismatch warning\n{result.describe()}"
        return result

    def cli(self, *args: str, timeout: float = 90, input: str | None = None) -> Result:
        """A `zenml` CLI command; `input` is its stdin."""
        return self.run([str(ZENML_VENV / "bin" / "zenml"), *args], timeout, input)

    @contextmanager
    def background(self, *args: str, timeout: float = 120) -> Iterator["Background"]:
        """A `zenml` CLI command running while the block runs (stdout and stderr to one file); it is
        killed if still running when the block ends."""
        log_path = self.home / f"background-{time.monotonic_ns()}.log"
        command = [str(ZENML_VENV / "bin" / "zenml"), *args]
        offset = self.server.log_offset()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=self.home,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        running = Background(command, process, log_path, self.server, offset, timeout)
        try:
            yield running
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def script(self, name: str, *args: str, timeout: float = 180) -> Result:
        """A script from tests/e2e/scripts, run by the client's Python from the client's home."""
        shutil.copy(SCRIPTS / name, self.home / name)
        return self.run([str(ZENML_VENV / "bin" / "python"), name, *args], timeout)


@dataclass
class Background:
    """A CLI command started by ZenmlClient.background()."""

    args: list[str]
    process: subprocess.Popen
    log_path: Path
    server: Server
    offset: int
    timeout: float

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        """The first match of `pattern` in the output, once it shows; fails if the command ends first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"{pattern!r} not in the output of {' '.join(self.args)}:\n{self.output()}", pytrace=False)

    def result(self) -> Result:
        """Wait for the command to end (fails after `timeout`)."""
        try:
            returncode = self.process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"timed out after {self.timeout}s: {' '.join(self.args)}\n{self.output()}", pytrace=False)
        result = Result(self.args, returncode, self.output(), "", self.server.failed_requests(self.offset))
        assert MISMATCH_WARNING not in result.output, f"client/server version mismatch warning\n{result.describe()}"
        return result


def installed_zenml_version() -> str | None:
    python = ZENML_VENV / "bin" / "python"
    if not python.exists():
        return None
    code = "import importlib.metadata as m; print(m.version('zenml'))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() if done.returncode == 0 else None


@pytest.fixture(scope="session")
def zenml_venv() -> Path:
    version = installed_zenml_version()
    require(version is not None, f"{ZENML_VENV} has no zenml: run `make {ZENML_VENV.name}/.installed`")
    assert version == ZENML_VERSION, f"{ZENML_VENV} has zenml {version}, requirements-e2e.txt pins {ZENML_VERSION}"
    return ZENML_VENV


@pytest.fixture(scope="session")
def new_zenml_client(zenml_venv, mlmeta_server, tmp_path_factory):
    """Makes a new client installation (fresh config and local stores); `username`, `password` or
    `api_key` override the admin's credentials, `url` and `store_env` as in ZenmlClient."""

    def make(**options) -> ZenmlClient:
        return ZenmlClient(mlmeta_server, tmp_path_factory.mktemp("zenml-client"), **options)

    return make


@pytest.fixture(scope="module")
def zenml(new_zenml_client) -> ZenmlClient:
    """The client installation shared by a module's tests (its runs' artifacts live in its stores)."""
    return new_zenml_client()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    # Before any fixture of the test runs: a failing module fixture's requests count too.
    server = item.config.stash.get(SERVER, None)
    item.stash[LOG_OFFSET] = server.log_offset() if server else 0
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    server = item.config.stash.get(SERVER, None)
    if report.failed and server and call.when in ("setup", "call"):
        log = server.log_since(item.stash.get(LOG_OFFSET, 0))
        report.sections.append(("MLMeta server log during this test", log[-20000:]))
    return report


# --- SQLite servers of their own (the browser tests) ------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite database with every migration applied, made once: each SQLite server of the
    session starts from a copy of it (and bootstraps itself) instead of migrating its own."""
    tmp = tmp_path_factory.mktemp("migrated")
    database = tmp / "template.sqlite3"
    env = server_env(free_port(), tmp / "var", f"sqlite:///{database}")
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"manage.py migrate failed:\n{done.stdout}{done.stderr}"
    return database


def sqlite_server(tmp: Path, template: Path, host: str = "127.0.0.1") -> Server:
    """A server (not started yet) reached, and naming itself, at http://<host>:<free port>, with
    a copy of `template` as its database and a var dir of its own under tmp."""
    port = free_port()
    server = Server(url=f"http://{host}:{port}", log_path=tmp / "server.log")
    database = tmp / "mlmeta.sqlite3"
    shutil.copyfile(template, database)
    server.env = server_env(port, tmp / "var", f"sqlite:///{database}")
    server.env["MLMETA_SERVER_URL"] = server.url
    return server


@contextmanager
def running(*servers: Server) -> Iterator[None]:
    """gunicorn for each server, started together; healthy within the block, stopped after it."""
    try:
        for server in servers:
            with server.log_path.open("ab") as log:
                server.process = subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
                    cwd=ROOT,
                    env=server.env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
        for server in servers:
            wait_healthy(server, urlparse(server.url).port)
        yield
    finally:
        for server in servers:
            if server.process is not None:
                stop(server.process)


@pytest.fixture(scope="session")
def dashboard_server(tmp_path_factory, migrated_sqlite) -> Iterator[Server]:
    """One running MLMeta (gunicorn, SQLite, bootstrapped) for the session's dashboard browser
    tests; each module puts its fixed scene on it with seed_scene(). Its local artifact root is
    the `artifacts` directory beside its database."""
    require(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium")
    tmp = tmp_path_factory.mktemp("dashboard")
    server = sqlite_server(tmp, migrated_sqlite)
    server.env["MLMETA_LOCAL_ARTIFACT_ROOTS"] = str(tmp / "artifacts")
    server.manage("bootstrap")
    with running(server):
        yield server


def seed_scene(server: Server, name: str, setup_code: str) -> dict:
    """Runs `setup_code` in the server's Django shell, formatted with `admin` (the admin's
    username) and `store` (a directory of the scene's own under the local artifact root); the
    JSON line of ids it printed last."""
    store = Path(server.env["MLMETA_LOCAL_ARTIFACT_ROOTS"]) / name / "store"
    store.mkdir(parents=True)
    output = server.manage("shell", "-c", setup_code.format(admin=ADMIN_USERNAME, store=str(store)))
    return json.loads(output.splitlines()[-1])


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright, one process for the module's tests: a test opens
    its own context (`browser.new_page()` or `browser.new_context()`), so no cookie is shared.

    Module-scoped on purpose: while Playwright's sync API is started, its event loop counts as
    running in this thread, so a second `sync_playwright()` (or asyncio.run) in the same module
    would fail: use this fixture instead."""
    require(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


def log_in(page, server, path: str) -> None:
    """Log the browser `page` in as the seeded admin through /login, landing on `path`."""
    page.goto(f"{server.url}/login?next={path}")
    page.fill("#id_username", ADMIN_USERNAME)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}{path}")
