"""The server the contract runs against: production settings (DEBUG off) under gunicorn,
on a PostgreSQL database that is created and migrated first, as a deploy's release step does."""

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dj_database_url
import psycopg
from psycopg import sql

PROJECT = Path(__file__).resolve().parent.parent.parent
START_SECONDS = 30


class ServerFailed(Exception):
    pass


def production_env(*, database_url: str, port: int) -> dict:
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SECRET": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        # The fuzzer sends thousands of sign-ins; 429s would hide every other answer.
        "RATELIMIT_ENABLE": "0",
    }


def database_create(database_url: str) -> None:
    """Creates the PostgreSQL database of DATABASE_URL when it does not exist yet."""
    config = dj_database_url.parse(database_url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise ServerFailed(f"the contract runs on PostgreSQL; DATABASE_URL is {config['ENGINE']}")
    maintenance = psycopg.connect(
        dbname="postgres",
        user=config["USER"] or None,
        password=config["PASSWORD"] or None,
        host=config["HOST"] or None,
        port=config["PORT"] or None,
        autocommit=True,
    )
    with maintenance:
        exists = maintenance.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if not exists:
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=env, check=True)  # noqa: S603


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(env: dict, log_path: Path):
    """gunicorn as the Procfile starts it; yields the base URL. Its logs go to log_path."""
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "persona.wsgi", "--config", "gunicorn.conf.py"],
            cwd=PROJECT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{env['PORT']}"
        try:
            _wait_until_ready(server, base_url)
            yield base_url
        finally:
            server.terminate()
            try:
                server.wait(timeout=35)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_ready(server: subprocess.Popen, base_url: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServerFailed(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/health/ready", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:  # refused while starting, or a 503 (HTTPError) while not ready
            pass
        time.sleep(0.2)
    raise ServerFailed(f"gunicorn was not ready after {START_SECONDS} s")
