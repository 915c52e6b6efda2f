"""The production server: gunicorn with DEBUG off serves the API and the admin's CSS."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str):
    return urllib.request.urlopen(url, timeout=5)  # noqa: S310 (loopback only)


@pytest.fixture
def gunicorn():
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "persona.wsgi", "--config", "gunicorn.conf.py"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            get(f"{base}/health")
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"gunicorn did not start: {server.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
    yield server, base
    if server.poll() is None:
        server.kill()
        server.wait()


def test_gunicorn_serves_health_and_admin_css_then_stops_cleanly(gunicorn):
    server, base = gunicorn

    assert get(f"{base}/health").status == 200
    css = get(f"{base}/static/admin/css/base.css")
    assert css.status == 200
    assert css.headers["Content-Type"].startswith("text/css")

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
