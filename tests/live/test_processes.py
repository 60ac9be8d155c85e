"""The processes docker-compose.yml starts, run directly: gunicorn, a Celery worker, Celery beat.

The commands are read from docker-compose.yml and run as they stand, with two mappings for
running outside a container: the container's var volume (``/var/lib/idp``) becomes a temporary
directory and gunicorn binds 127.0.0.1 on a port of the kernel's choosing. They use the test
database (its data committed) and the Redis of ``REDIS_URL``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection

from tests.conftest import make_client

BASE_DIR = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CONTAINER_VAR = "/var/lib/idp"
CONTAINER_BIND = "0.0.0.0:8000"

needs_services = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")),
    reason="needs DATABASE_URL and REDIS_URL: these processes run the production set-up "
    "(a database server and a broker)",
)


def compose_commands() -> dict[str, list[str]]:
    """``command:`` of each service in docker-compose.yml (one-line JSON lists, by convention)."""
    commands, service, in_services = {}, None, False
    for line in (BASE_DIR / "docker-compose.yml").read_text().splitlines():
        if re.match(r"^\S", line):
            in_services = line.startswith("services:")
        elif in_services and (match := re.match(r"^  ([\w-]+):\s*$", line)):
            service = match.group(1)
        elif in_services and service and (match := re.match(r"^    command:\s*(\[.*\])\s*$", line)):
            commands[service] = json.loads(match.group(1))
    return commands


def mapped(command: list[str], **mapping: str) -> list[str]:
    joined = "\0".join(command)
    for container_value, local_value in mapping.items():
        assert container_value in joined, f"{container_value!r} not in {command}"
        joined = joined.replace(container_value, local_value)
    return joined.split("\0")


def test_database_url() -> str:
    """DATABASE_URL naming the database this test run created (``test_idp``), not ``idp``."""
    url = urlsplit(os.environ["DATABASE_URL"])
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    return url._replace(path="/" + name).geturl()


test_database_url.__test__ = False  # a helper, not a test


class Processes:
    """Subprocesses with their output in files; every one is stopped when the test ends."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.var_dir = tmp_path / "var"
        self.running: list[tuple[subprocess.Popen, Path]] = []
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"SECRET_KEY", "OIDC_RSA_PRIVATE_KEY", "IDP_ISSUER"}
        }
        self.env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            DATABASE_URL=test_database_url(),
            IDP_VAR_DIR=str(self.var_dir),
            XDG_RUNTIME_DIR=str(tmp_path),  # gunicorn's control socket
            PYTHONUNBUFFERED="1",
        )

    def start(self, name: str, command: list[str], **env: str) -> tuple[subprocess.Popen, Path]:
        log = self.tmp_path / f"{name}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopping it stops its children
            )
        self.running.append((proc, log))
        return proc, log

    def run(self, command: list[str]) -> None:
        done = subprocess.run(
            command, cwd=BASE_DIR, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def wait_until(self, proc: subprocess.Popen, log: Path, check: Callable, what: str, timeout: float = 60):
        """Bounded polling: return ``check()`` once truthy; fail at once if the process exits."""
        deadline = time.monotonic() + timeout
        while not (result := check()):
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {timeout}s from {proc.args}:\n{log.read_text()}")
            try:
                proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"{proc.args} exited with {proc.returncode}:\n{log.read_text()}")
        return result

    def wait_for(self, proc: subprocess.Popen, log: Path, pattern: str) -> re.Match:
        return self.wait_until(
            proc, log, lambda: re.search(pattern, log.read_text()), f"{pattern!r} in the output"
        )

    def get_ok(self, proc: subprocess.Popen, log: Path, url: str) -> requests.Response:
        def check():
            try:
                resp = requests.get(url, timeout=5)
            except requests.ConnectionError:
                return None
            return resp if resp.status_code == 200 else None

        return self.wait_until(proc, log, check, f"200 from {url}")

    def stop(self, proc: subprocess.Popen, timeout: float = 30) -> int:
        """SIGTERM to the process (its own graceful shutdown); SIGKILL to its group if it hangs."""
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        return proc.returncode

    def stop_all(self) -> None:
        for proc, _log in reversed(self.running):
            self.stop(proc)


@pytest.fixture
def processes(tmp_path, transactional_db):
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


@pytest.fixture
def bootstrapped(processes):
    """What the web service does before the worker and beat start: secrets into the var volume."""
    processes.run(["python", "-m", "idp.bootstrap"])
    assert (processes.var_dir / "secret_key").exists()
    return processes


def test_compose_file_has_the_commands_these_tests_run():
    commands = compose_commands()
    assert set(commands) >= {"web", "worker", "beat"}
    assert "exec gunicorn idp.wsgi" in commands["web"][-1]
    assert commands["worker"][:4] == ["celery", "-A", "idp", "worker"]
    assert commands["beat"][:4] == ["celery", "-A", "idp", "beat"]


@needs_services
def test_web_bootstraps_migrates_and_serves_with_gunicorn(processes):
    client, _secret = make_client(brand_color="#13579b")  # committed: gunicorn must see it
    command = mapped(compose_commands()["web"], **{CONTAINER_BIND: "127.0.0.1:0"})
    proc, log = processes.start("web", command)
    base = processes.wait_for(proc, log, r"Listening at: (http://127\.0\.0\.1:\d+)").group(1)

    assert processes.get_ok(proc, log, base + "/healthz").json() == {"status": "ok"}
    discovery = processes.get_ok(proc, log, base + "/.well-known/openid-configuration").json()
    assert discovery["issuer"] == base
    assert discovery["token_endpoint"] == base + "/token"
    assert requests.get(discovery["jwks_uri"], timeout=10).json()["keys"]
    theme = requests.get(f"{base}/branding/{client.client_id}/theme.css", timeout=10)
    assert theme.status_code == 200 and "#13579b" in theme.text
    # The secret key and the signing key ring were generated into the var volume on start.
    assert (processes.var_dir / "secret_key").exists()
    assert (processes.var_dir / "keys" / "signing.json").exists()

    assert processes.stop(proc) == 0, log.read_text()


@needs_services
def test_worker_runs_a_task_sent_through_redis(bootstrapped):
    from celery import Celery

    from idp.tasks import ping

    redis_url = os.environ["REDIS_URL"]
    # The project keeps no task results; this test alone gives the worker a result backend.
    proc, log = bootstrapped.start("worker", compose_commands()["worker"], CELERY_RESULT_BACKEND=redis_url)
    bootstrapped.wait_for(proc, log, r"celery@\S+ ready\.")

    value = secrets.token_urlsafe(12)
    sent = ping.apply_async(args=[value])  # the project's own app and settings: JSON over Redis
    results = Celery("results", broker=redis_url, backend=redis_url)
    try:
        assert results.AsyncResult(sent.id).get(timeout=30) == value
    finally:
        results.close()
    assert "idp.tasks.ping" in log.read_text()

    assert bootstrapped.stop(proc) == 0, log.read_text()


@needs_services
def test_beat_starts_its_scheduler(bootstrapped):
    command = mapped(compose_commands()["beat"], **{CONTAINER_VAR: str(bootstrapped.var_dir)})
    proc, log = bootstrapped.start("beat", command)

    bootstrapped.wait_for(proc, log, r"beat: Starting\.\.\.")
    output = log.read_text()
    assert "celery.beat.PersistentScheduler" in output
    assert str(bootstrapped.var_dir / "celerybeat-schedule") in output
    # The scheduler opened its schedule file in the var volume.
    bootstrapped.wait_until(
        proc,
        log,
        lambda: list(bootstrapped.var_dir.glob("celerybeat-schedule*")),
        "the schedule file",
        timeout=30,
    )

    assert bootstrapped.stop(proc) == 0, log.read_text()
