"""PostgreSQL that never holds a request for long: client-side deadlines and the pool's check.

The server enforces `statement_timeout` and `lock_timeout`, and answers "busy" when they
expire. A server that stops answering (a stopped process, a network that drops packets
without a reset) enforces nothing, and its kernel still acknowledges what is sent, so a
request would wait for as long as that lasts. A watchdog thread shuts down the socket of any
database operation past its deadline: psycopg then raises OperationalError, and the API
answers 503 (persona.views).

Queries get DATABASE_QUERY_DEADLINE through an execute wrapper (persona.middleware), commits
and rollbacks through `Connection`, and the pool's check of each connection it hands out gets
DATABASE_PING_DEADLINE, as does the readiness probe.
"""

import contextlib
import os
import socket
import threading
import time

import psycopg
from django.conf import settings

WATCHDOG_INTERVAL_SECONDS = 0.25


class Watchdog:
    """One thread per process that shuts down the sockets of operations past their deadline.

    Watching an operation costs a dictionary entry, not a thread or a timer: the deadlines
    are seconds, so checking them a few times a second is precise enough.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._watched: dict[object, tuple[float, psycopg.pq.abc.PGconn]] = {}
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def deadline(self, pgconn, seconds: float):
        """Shuts down the connection's socket if the block still runs after `seconds`
        (0: no deadline)."""
        if not seconds:
            yield
            return
        key = object()
        with self._lock:
            self._watched[key] = (time.monotonic() + seconds, pgconn)
            # Started here rather than at import, so that it runs in each forked worker.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="database-watchdog", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._watched.pop(key, None)

    def _run(self):
        while True:
            time.sleep(WATCHDOG_INTERVAL_SECONDS)
            now = time.monotonic()
            # Under the lock, so no connection watched here can be closed and its file
            # descriptor reused meanwhile: its owner removes it first.
            with self._lock:
                late = [key for key, (deadline, _) in self._watched.items() if deadline <= now]
                for key in late:
                    _shut_down(self._watched.pop(key)[1])


def _shut_down(pgconn):
    # pgconn.socket raises when libpq has already dropped the connection.
    with (
        contextlib.suppress(OSError, psycopg.OperationalError),
        socket.socket(fileno=os.dup(pgconn.socket)) as sock,
    ):
        sock.shutdown(socket.SHUT_RDWR)


watchdog = Watchdog()


def deadline(seconds: float):
    """An execute wrapper (`connection.execute_wrapper`) that gives each query `seconds`."""

    def wrapper(execute, sql, params, many, context):
        database = context["connection"]
        if database.vendor != "postgresql":  # SQLite is a local file, with its own busy timeout
            return execute(sql, params, many, context)
        with watchdog.deadline(database.connection.pgconn, seconds):
            return execute(sql, params, many, context)

    return wrapper


class Connection(psycopg.Connection):
    """psycopg's connection, with deadlines where execute wrappers do not reach: commits and
    rollbacks get a query's, and `execute` a ping's.

    Django's queries go through cursors, never `execute`; the pool's check of each connection
    it hands out does (psycopg_pool's `check_connection` runs `execute("")`). A connection found
    broken there has the pool replace its idle ones too: after a database restart they are all
    dead, and the pool would try them one at a time, waiting longer after each, past a
    request's patience.
    """

    def execute(self, *args, **kwargs):
        try:
            with watchdog.deadline(self.pgconn, settings.DATABASE_PING_DEADLINE):
                return super().execute(*args, **kwargs)
        except psycopg.OperationalError:
            # _pool is set while a pool hands the connection out (Django relies on it too).
            if self.broken and (pool := getattr(self, "_pool", None)):
                pool.drain()
            raise

    def commit(self):
        with watchdog.deadline(self.pgconn, settings.DATABASE_QUERY_DEADLINE):
            super().commit()

    def rollback(self):
        with watchdog.deadline(self.pgconn, settings.DATABASE_QUERY_DEADLINE):
            super().rollback()
