"""Helpers for tests in every app: markers, a live gunicorn and nginx (testing.servers), races,
and a TCP proxy that simulates a backing service's failures."""

import atexit
import contextlib
import json
import shutil
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from testing import servers
from testing.servers import free_port

PASSWORD = "correct horse battery staple"

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (row locks, real concurrency); set DATABASE_URL to run it",
)

needs_nginx = pytest.mark.skipif(
    servers.NGINX is None, reason="needs nginx (apt-get install nginx; .ci/run installs it)"
)


def run_concurrently(*calls):
    """Runs each zero-argument call in its own thread and database connection, released
    together by a barrier so their transactions really overlap; returns their results in
    order. An exception in a call becomes its result (as a 500 would for a client)."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def backup_storage_env() -> dict:
    """The environment that makes a server keep backup payloads where the running test looks
    (conftest.py gives each test its own folder or bucket prefix)."""
    from django.conf import settings

    location = settings.STORAGES["backups"]["OPTIONS"]["location"]
    if settings.BACKUP_S3_BUCKET:
        return {"BACKUP_S3_PREFIX": location}
    return {"BACKUP_STORAGE_DIR": str(location)}


@contextlib.contextmanager
def live_gunicorn(*, migrate: bool = False, log: Path | None = None, **env):
    """gunicorn of this checkout with production settings (DEBUG off), one worker, on a free
    loopback port; yields (testing.servers.Server, base_url). Keyword arguments become
    environment variables; with `migrate`, the database they name is migrated first (e.g. a
    fresh SQLite file). Its log is `server.log_path` (`log` when given)."""
    server_env = servers.production_env(**{"WEB_CONCURRENCY": "1", **backup_storage_env(), **env})
    if migrate:
        _migrate(server_env)
    try:
        with servers.gunicorn(server_env, log=log) as server:
            yield server, server.base_url
    except servers.ServerFailed as failure:
        pytest.fail(str(failure))


_migrated_sqlite: Path | None = None


def _migrate(server_env: dict) -> None:
    """Migrates the database the environment names. A new SQLite file is instead a copy of one
    migrated once per test process: migrating takes seconds, and several tests start servers
    on fresh files."""
    global _migrated_sqlite
    url = server_env.get("DATABASE_URL", "")
    target = Path(url.removeprefix("sqlite:///"))
    if not url.startswith("sqlite:///") or target.exists():
        servers.manage(server_env, "migrate", "--noinput")
        return
    if _migrated_sqlite is None:
        folder = tempfile.mkdtemp(prefix="persona-migrated-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = Path(folder) / "db.sqlite3"
        servers.manage({**server_env, "DATABASE_URL": f"sqlite:///{template}"}, "migrate", "--noinput")
        _migrated_sqlite = template
    shutil.copyfile(_migrated_sqlite, target)


@contextlib.contextmanager
def live_events(*, log: Path | None = None, **env):
    """The ASGI side (HTTP and /ws/events) as the Procfile's `events` runs it, one worker, with
    production settings; yields the testing.servers.Server. Keyword arguments become
    environment variables."""
    server_env = servers.production_env(**{"WEB_CONCURRENCY": "1", **backup_storage_env(), **env})
    try:
        with servers.events(server_env, log=log) as server:
            yield server
    except servers.ServerFailed as failure:
        pytest.fail(str(failure))


@contextlib.contextmanager
def live_nginx(*, upstream_port: int, directory: Path, events_port: int | None = None):
    """deploy/nginx.conf in front of gunicorn on `upstream_port` (and the ASGI side on
    `events_port`); yields its base URL."""
    try:
        with servers.nginx(
            upstream_port=upstream_port, directory=directory, events_port=events_port
        ) as base_url:
            yield base_url
    except servers.ServerFailed as failure:
        pytest.fail(str(failure))


def wait_for_log_line(server, text: str, timeout: float = 20) -> None:
    """Waits until the live gunicorn's log holds `text`."""
    deadline = time.monotonic() + timeout
    while text not in server.log():
        if time.monotonic() > deadline:
            pytest.fail(f"gunicorn never logged {text!r}")
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited without logging {text!r}")
        time.sleep(0.02)


def http(method: str, url: str, body=None, headers=None, token=None, timeout: float = 10):
    """A plain HTTP call to a live server: (status, headers, parsed JSON or raw bytes)."""
    if token:
        headers = {**(headers or {}), "Authorization": f"Bearer {token}"}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, response_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, raw = error.code, error.headers, error.read()
    is_json = response_headers.get("Content-Type", "").startswith("application/json")
    return status, response_headers, json.loads(raw) if is_json and raw else raw


class TcpProxy:
    """A loopback TCP proxy to `target_port` that simulates a backing service's failures:
    - `cut()` drops every connection and refuses new ones until `restore()` (an outage; both
      at once are a restart);
    - `freeze()` forwards nothing, in either direction, until `thaw()`, while connections stay
      open and new ones are accepted (a server that hangs: the kernel still acknowledges);
    - `max_connections` refuses connections beyond that many open ones (a server's limit)."""

    def __init__(self, target_port: int, max_connections: int | None = None):
        self.target_port = target_port
        self.max_connections = max_connections
        self.port = free_port()
        self._up = threading.Event()
        self._up.set()
        self._flowing = threading.Event()
        self._flowing.set()
        self._links: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self):
        self._up.clear()
        with self._lock:
            links, self._links = self._links, set()
        for link in links:
            for sock in link:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def restore(self):
        self._up.set()

    def freeze(self):
        self._flowing.clear()

    def thaw(self):
        self._flowing.set()

    def open_connections(self) -> int:
        with self._lock:
            return len(self._links)

    def close(self):
        self.cut()
        self.thaw()
        self._listener.close()

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                full = self.max_connections is not None and len(self._links) >= self.max_connections
            if full or not self._up.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            link = (client, upstream)
            with self._lock:
                self._links.add(link)
            threading.Thread(target=self._link, args=(link,), daemon=True).start()

    def _link(self, link):
        client, upstream = link
        outgoing = threading.Thread(target=self._pipe, args=(client, upstream), daemon=True)
        outgoing.start()
        self._pipe(upstream, client)
        outgoing.join()
        with self._lock:
            self._links.discard(link)
        client.close()
        upstream.close()

    def _pipe(self, source, sink):
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                self._flowing.wait()
                sink.sendall(chunk)
        self._flowing.wait()
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def proxied_database_url(proxy: TcpProxy) -> str:
    """DATABASE_URL for the test database (PostgreSQL), reached through `proxy`."""
    db = connection.settings_dict
    return f"postgresql://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}"


def timed(call, *args, **kwargs):
    """An http() call's (status, body, seconds it took)."""
    started = time.monotonic()
    status, _, body = call(*args, **kwargs)
    return status, body, time.monotonic() - started


def wait_until_a_query_waits_for_a_lock(timeout: float = 15):
    """Returns once a session of the test database (PostgreSQL) waits for a lock."""
    db = connection.settings_dict
    deadline = time.monotonic() + timeout
    # Autocommit: within a transaction, pg_stat_activity shows the same snapshot each time.
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname="postgres", autocommit=True
    ) as observer:
        while time.monotonic() < deadline:
            waiting = observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                [db["NAME"]],
            ).fetchone()[0]
            if waiting:
                return
            time.sleep(0.02)
    pytest.fail("no query waited for the lock")
