"""Fixtures for webhooks: a receiver on loopback that verifies every delivery, subscriptions,
Celery in-process, and for the queue tests a private redis-server as the broker and a real worker.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone

from consent.outbox import services
from consent.outbox.signing import WebhookVerificationError, verify

WORKER_SETTINGS = "tests.consent.webhooks.worker_settings"


class Receiver:
    """A marketing system's webhook endpoint on loopback.

    Answers with ``answers`` in turn (a status, or ``(status, headers)``), then 200. Every request
    is checked with :func:`consent.outbox.signing.verify` against ``secrets`` (set once the
    subscription exists) and kept with the outcome.
    """

    def __init__(self, answers: list | None = None, *, hold: threading.Event | None = None):
        self.answers = list(answers or [])
        self.secrets: list[str] = []
        self.received: list[dict] = []
        self.hold = hold
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    # The receiver's clock is this process's (moved along with it by tests that move time).
                    now = timezone.now().timestamp()
                    payload, error = verify(secret=receiver.secrets, body=body, headers=headers, now=now), ""
                except WebhookVerificationError as exc:
                    payload, error = None, str(exc)
                if receiver.hold is not None:
                    receiver.hold.wait(30)  # a receiver that does not answer in time
                with receiver._changed:
                    answer = receiver.answers.pop(0) if receiver.answers else 200
                status, extra = answer if isinstance(answer, tuple) else (answer, {})
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver._changed:
                    receiver.received.append(
                        {
                            "path": self.path,
                            "headers": headers,
                            "body": body,
                            "payload": payload,
                            "error": error,
                            "status": status,
                        }
                    )
                    receiver._changed.notify_all()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/crm"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def verified(self) -> list[dict]:
        """Payloads of the deliveries whose signature checked out."""
        return [r["payload"] for r in self.received if not r["error"]]

    @property
    def statuses(self) -> list[int]:
        return [r["status"] for r in self.received]

    def wait_for(self, count: int, timeout: float = 30) -> list[dict]:
        """Block (on a condition, not a sleep) until ``count`` requests were answered."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.received) >= count, timeout=timeout)
        assert len(self.received) >= count, f"{len(self.received)} of {count} deliveries within {timeout}s"
        return self.received

    def close(self):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    """``receiver(answers=[], hold=None)``: start one; every one is stopped after the test."""
    started = []

    def start(answers: list | None = None, **kwargs) -> Receiver:
        endpoint = Receiver(answers, **kwargs)
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        endpoint.close()


@pytest.fixture
def subscribe(db):
    """``subscribe(receiver, kinds=["consent.changed"])``: a subscription whose secret the receiver knows."""

    def make(endpoint: Receiver, kinds: list[str] | None = None, name: str = "CRM", url: str | None = None):
        subscription, secret = services.webhook_subscription_create(
            name=name, url=url or endpoint.url, event_kinds=kinds or ["consent.changed"]
        )
        endpoint.secrets.append(secret)
        return subscription

    return make


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_url() -> str:
    """A loopback URL where nothing listens: connections are refused."""
    return f"http://127.0.0.1:{free_port()}/hooks"


@pytest.fixture
def eager_tasks():
    """Run published tasks in-process, also on PostgreSQL + Redis, where queuing is not the point."""
    from idp.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


# --- A broker and a worker of our own ------------------------------------------------------------


class RedisServer:
    """A private ``redis-server`` on a free loopback port: the broker these tests can stop."""

    def __init__(self, tmp_path: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = tmp_path / f"redis-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import redis

        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start:\n{self.log.read_text()}")
                try:  # bounded polling of a starting process; fail at once if it exits
                    self.proc.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    continue
                pytest.fail(f"redis-server exited with {self.proc.returncode}:\n{self.log.read_text()}")
        client.close()

    def pause(self) -> None:
        """Hang the broker (SIGSTOP): connections are still accepted by the kernel, nothing answers."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.resume()
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None


needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs the redis-server program (a broker these tests control)"
)


@contextmanager
def celery_broker(url: str):
    """This process's Celery app publishes to ``url`` (for real: not in-process) while inside."""
    from idp.celery import app

    saved = app.conf.broker_url, app.conf.task_always_eager, app._pool, app.amqp._producer_pool
    app._pool = app.amqp._producer_pool = None
    app.conf.broker_url, app.conf.task_always_eager = url, False
    try:
        yield
    finally:
        if app._pool is not None:
            app._pool.force_close_all()
        app.conf.broker_url, app.conf.task_always_eager, app._pool, app.amqp._producer_pool = saved


@pytest.fixture
def broker(tmp_path, transactional_db):
    """A private Redis as this process's Celery broker (tasks really published, not run here)."""
    server = RedisServer(tmp_path)
    server.start()
    with celery_broker(server.url):
        yield server
    server.stop()


@pytest.fixture
def broker_down():
    """The broker is down: publishing fails (a Redis URL where nothing listens), as in an outage."""
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"):
        yield


@pytest.fixture
def start_worker(tmp_path, broker, settings, monkeypatch):
    """``start_worker(beat=False)``: a Celery worker process on ``broker`` and the test database,
    with the short retry schedule of ``worker_settings`` (also applied here)."""
    from idp import bootstrap
    from tests.consent.webhooks import worker_settings
    from tests.live.test_processes import Processes

    for name in dir(worker_settings):
        if name.startswith("CONSENT_WEBHOOKS_"):
            setattr(settings, name, getattr(worker_settings, name))
    if "DATABASE_URL" not in os.environ:
        # The embedded run: Processes names the SQLite test database from the connection; it only
        # reads the variable's presence here, this process's settings are long loaded.
        monkeypatch.setenv("DATABASE_URL", "sqlite://")
    processes = Processes(tmp_path)
    processes.env.update(
        IDP_VAR_DIR=str(bootstrap.VAR_DIR),  # the same SECRET_KEY: it opens the sealed webhook secrets
        REDIS_URL=broker.url,
        DJANGO_SETTINGS_MODULE=WORKER_SETTINGS,
    )
    if "SECRET_KEY" in os.environ:
        processes.env["SECRET_KEY"] = os.environ["SECRET_KEY"]

    def start(beat: bool = False):
        command = ["celery", "-A", "idp", "worker", "-P", "solo", "--without-mingle", "--without-gossip", "-l", "INFO"]
        if beat:
            command += ["-B", "-s", str(tmp_path / "celerybeat-schedule")]
        proc, log = processes.start("worker", command)
        processes.wait_for(proc, log, r"celery@\S+ ready\.")
        return processes, proc, log

    yield start
    processes.stop_all()
