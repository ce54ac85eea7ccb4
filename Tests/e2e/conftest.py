"""Fixtures that run the real executables against a real PostgreSQL.

BIN_DIR (the swift build output) and TEST_DATABASE_URL come from scripts/test. Missing either is a
failure with a message, never a skip."""
import os
import pathlib
import signal
import socket
import subprocess
import time
import uuid

import psycopg
import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _required_env(name, hint):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: {hint}", pytrace=False)
    return value


@pytest.fixture(scope="session")
def bin_dir():
    path = pathlib.Path(_required_env("BIN_DIR", "run the tests with scripts/test (it builds and sets BIN_DIR)"))
    for exe in ("collector", "profile-engine", "profile-api"):
        if not (path / exe).exists():
            pytest.fail(f"{path / exe} does not exist: build with `swift build`", pytrace=False)
    return path


@pytest.fixture(scope="session")
def server_url():
    return _required_env("TEST_DATABASE_URL", "run the tests with scripts/test, which starts a throwaway PostgreSQL")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Database:
    """A fresh database on the test server; dropped at the end."""

    def __init__(self, server_url):
        self.name = "pbe2e_" + uuid.uuid4().hex[:12]
        self.server_url = server_url
        base = server_url.rsplit("/", 1)[0]
        self.url = f"{base}/{self.name}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def connect(self):
        return psycopg.connect(self.url, autocommit=True)

    def query(self, sql, params=()):
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()

    def drop(self):
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture
def database(server_url):
    db = Database(server_url)
    yield db
    db.drop()


def service_env(db_url, **extra):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": db_url,
        "SQL_DIR": str(ROOT / "sql"),
        "PROFILE_FIELDS_FILE": str(ROOT / "config/profile_fields.yaml"),
        "WEB_DIR": str(ROOT / "web"),
        "LOG_LEVEL": "info",
        "STARTUP_TIMEOUT_SECONDS": "10",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def as_role(db_url, role):
    """`db_url` with the user replaced by `role` and no password (the test server trusts loopback)."""
    scheme, rest = db_url.split("://", 1)
    return f"{scheme}://{role}@{rest.split('@', 1)[1]}"


class Service:
    """One running executable; `stop()` sends SIGTERM and returns (exit code, seconds taken).
    Each connects as its own PostgreSQL role (sql/0016), as deployed."""

    PORT_VARIABLE = {"collector": "COLLECTOR_PORT", "profile-engine": "ENGINE_PORT", "profile-api": "API_PORT"}
    ROLE = {"collector": "pb_collector", "profile-engine": "pb_engine", "profile-api": "pb_api"}

    def __init__(self, bin_dir, name, db_url, log_dir, port=None, **extra):
        self.name = name
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = service_env(as_role(db_url, self.ROLE[name]), **{self.PORT_VARIABLE[name]: self.port}, **extra)
        self.log_path = log_dir / f"{name}-{self.port}.log"
        restart = 1
        while self.log_path.exists():  # a restart on the same port keeps the earlier log
            restart += 1
            self.log_path = log_dir / f"{name}-{self.port}-{restart}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([str(bin_dir / name), "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}: {self.logs()}")
            try:
                if requests.get(self.url + "/ready", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready after {timeout}s: {self.logs()}")

    def logs(self):
        self.log.flush()
        return self.log_path.read_text()[-4000:]

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.process.poll() is not None:
            return self.process.returncode, 0.0
        start = time.time()
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        return code, time.time() - start


@pytest.fixture
def migrated(bin_dir, database):
    result = subprocess.run([str(bin_dir / "collector"), "migrate"], env=service_env(database.url),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return database


@pytest.fixture
def start_service(bin_dir, tmp_path):
    started = []

    def start(name, db, port=None, **extra):
        """Starts `name` against `db`; `port` reuses a port (a restart), else a free one is taken."""
        service = Service(bin_dir, name, db.url, tmp_path, port=port, **extra)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop(signal.SIGKILL if service.process.poll() is None else signal.SIGTERM)


_REPORTED = []


@pytest.fixture
def report(request):
    """`report(line)`: a line shown in the summary at the end of the run (pytest -q hides prints)."""
    return lambda line: _REPORTED.append(f"{request.node.name}: {line}")


def pytest_terminal_summary(terminalreporter):
    if _REPORTED:
        terminalreporter.section("what the fault scenarios checked")
        for line in _REPORTED:
            terminalreporter.write_line(line)
