"""Starting this project's servers for tests and tools: gunicorn, and nginx in front of it, on
free loopback ports, waited for until they answer, and stopped by PID.

The one place that knows how: the test suite, `make contract` and the benchmarks all use it.
Nothing here imports pytest or Django, so the tools run without either being set up.
"""

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
START_SECONDS = 30
STOP_SECONDS = 20


class ServerFailed(Exception):
    """A server that did not start; the message ends with its last log lines."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(**overrides: str) -> dict:
    """This process's environment with production settings (DEBUG off) for a server on
    loopback: secrets are generated unless the environment has them already (the tests'
    own, so that tokens they mint are valid on the server)."""
    env = {
        **os.environ,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        # glibc's allocator as the Procfile and the Dockerfile set it (see .env.example).
        "MALLOC_ARENA_MAX": "2",
        "MALLOC_MMAP_THRESHOLD_": "1048576",
        **overrides,
    }
    for secret in ("SECRET_KEY", "JWT_SECRET"):
        env.setdefault(secret, secrets.token_urlsafe(50))
    return env


def manage(env: dict, *args: str, cwd: Path = PROJECT) -> None:
    """Runs `manage.py` with `env` (a release step: migrate, import_ai_scripts, ...)."""
    subprocess.run([sys.executable, "manage.py", *args], cwd=cwd, env=env, check=True, capture_output=True)


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def pids(self) -> list[int]:
        """The master and its workers."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return [self.pid, *map(int, children)]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def gunicorn(
    env: dict,
    *,
    app: str = "persona.wsgi",
    log: Path | None = None,
    cwd: Path = PROJECT,
    prefix: Sequence[str] = (),
    port: int | None = None,
    extra: Sequence[str] = (),
) -> Iterator[Server]:
    """gunicorn with `cwd`'s gunicorn.conf.py serving `app`, `extra` added to its arguments;
    see serve()."""
    command = [*prefix, sys.executable, "-m", "gunicorn", app, "--config", "gunicorn.conf.py", *extra]
    with serve(command, env=env, log=log, cwd=cwd, port=port, name="gunicorn") as server:
        yield server


@contextlib.contextmanager
def events(env: dict, *, log: Path | None = None, port: int | None = None) -> Iterator[Server]:
    """The ASGI side as the Procfile's `events` entry runs it: gunicorn with uvicorn workers."""
    worker = ["--worker-class", "persona.events_worker.EventsWorker"]
    with gunicorn(env, app="persona.asgi:application", log=log, port=port, extra=worker) as server:
        yield server


@contextlib.contextmanager
def serve(
    command: Sequence[str],
    *,
    env: dict,
    log: Path | None = None,
    cwd: Path = PROJECT,
    port: int | None = None,
    name: str = "the server",
) -> Iterator[Server]:
    """A server started with `command` and `env` plus PORT (a free loopback port unless given),
    waited for until GET /health answers. Its log goes to a file (`log`, else a temporary one):
    a pipe nobody reads fills up with the request log and then blocks the server. When the
    block ends, the server and its children are stopped (see stop())."""
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="persona-server-") as scratch:
        log_path = log or Path(scratch) / "server.log"
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env={**env, "PORT": str(port)},
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                start_new_session=True,  # its own process group, so stop() ends the workers too
            )
        server = Server(process, port, log_path)
        try:
            _wait_until_answering(process, f"{server.base_url}/health", log_path, name)
            yield server
        finally:
            stop(process)


@contextlib.contextmanager
def nginx(*, upstream_port: int, directory: Path, events_port: int | None = None) -> Iterator[str]:
    """nginx with the committed deploy/nginx.conf, in front of gunicorn on `upstream_port` (and
    the ASGI side on `events_port`, if any), on a free loopback port; yields its base URL.
    It runs in the foreground with its configuration, temporary files and logs (access.log,
    error.log) in `directory`."""
    if NGINX is None:
        raise ServerFailed("nginx is not installed (apt-get install nginx)")
    port = free_port()
    config = (PROJECT / "deploy" / "nginx.conf").read_text()
    temp_paths = "".join(
        f"    {kind}_temp_path {directory / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # Started by root, the workers stay root to write in `directory`; else they run as its user.
    user = "user root;" if os.geteuid() == 0 else ""
    for committed, local in (
        ("user www-data;", user),
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("server app:3000;", f"server 127.0.0.1:{upstream_port};"),
        ("server events:3001;", f"server 127.0.0.1:{events_port or free_port()};"),
        ("http {\n", "http {\n" + temp_paths),
    ):
        if config.count(committed) != 1:
            raise ServerFailed(f"deploy/nginx.conf no longer has exactly one {committed!r} to replace")
        config = config.replace(committed, local)
    (directory / "nginx.conf").write_text(f"pid {directory / 'nginx.pid'};\n" + config)

    command = [NGINX, "-p", directory, "-c", directory / "nginx.conf", "-e", "stderr", "-g", "daemon off;"]
    error_log = directory / "error.log"
    with (directory / "access.log").open("ab") as access_log, error_log.open("ab") as errors:
        process = subprocess.Popen(command, stdout=access_log, stderr=errors, start_new_session=True)
    try:
        _wait_until_answering(process, f"http://127.0.0.1:{port}/health", error_log, "nginx")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout: float = STOP_SECONDS) -> None:
    """SIGTERM, a wait of up to `timeout` seconds, then SIGKILL to the process group: some
    servers ignore SIGTERM, and a stuck master must not leave workers behind."""
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _wait_until_answering(process: subprocess.Popen, url: str, log_path: Path, name: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # an answer, if not a happy one (nginx with no app behind it)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                log = log_path.read_text(errors="replace")
                raise ServerFailed(f"{name} did not start: {log[-2000:]}") from None
            time.sleep(0.1)
