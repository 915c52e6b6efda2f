"""Peak memory of one full-size backup upload and one download, through gunicorn.

    .venv/bin/python -m bench.backup_memory

Starts a gunicorn worker (on a fresh SQLite file, or on DATABASE_URL when it is set; the
payloads in a temporary folder), signs up a throw-away user, and measures how far the
worker's resident memory peaks above where it stood before each request (Linux:
/proc/<pid>/status VmHWM, the peak reset through /proc/<pid>/clear_refs). Uploads and
downloads each get a fresh worker, warmed up by a small request so that import costs do not
count, and each is measured twice: the first full-size request on a fresh database
connection also grows the driver's buffers (libpq keeps them for the connection's life), the
second shows the steady state. The payload is BACKUP_JSON_MAX_BYTES (10 MiB by default) of
base64 text, the largest the JSON endpoints take.
"""

import base64
import hashlib
import http.client
import json
import os
import secrets
import tempfile
from contextlib import contextmanager
from pathlib import Path

from testing import servers

MIB = 1024 * 1024
PAYLOAD_BYTES = int(os.environ.get("BACKUP_JSON_MAX_BYTES", 10 * MIB))
PORT = int(os.environ.get("BENCH_PORT", "3917"))


def server_env(database_url: str, payloads: str) -> dict:
    env = servers.production_env(
        DATABASE_URL=database_url,
        BACKUP_STORAGE_DIR=payloads,
        WEB_CONCURRENCY="1",
        SINGLE_PROCESS="1",
        # One thread, so the second request of a pair reuses the first one's connection.
        GUNICORN_THREADS="1",
        BACKUP_JSON_MAX_BYTES=str(PAYLOAD_BYTES),
    )
    env.pop("REDIS_URL", None)  # one worker: local memory, as SINGLE_PROCESS says
    return env


@contextmanager
def gunicorn(env: dict):
    """A fresh gunicorn on PORT; yields its worker's pid."""
    with servers.gunicorn(env, port=PORT) as server:
        yield server.pids()[1]


def request(method: str, path: str, body: bytes | None = None, token: str = "") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    content = response.read()
    connection.close()
    return response.status, content


def upload_body(data: str) -> bytes:
    return json.dumps(
        {"encrypted_data": data, "checksum": hashlib.sha256(data.encode()).hexdigest()}
    ).encode()


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def peak_growth(pid: int, call) -> float:
    """MiB the worker's resident memory peaked above its level before `call`."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS
    before = status_kib(pid, "VmRSS")
    call()
    return (status_kib(pid, "VmHWM") - before) / 1024


def report(label: str, growth_mib: float) -> None:
    payload_mib = PAYLOAD_BYTES / MIB
    print(f"{label:<34} {growth_mib:7.1f} MiB   {growth_mib / payload_mib:4.1f} x payload")


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{scratch}/bench.sqlite3"
        env = server_env(database_url, f"{scratch}/backup-payloads")
        servers.manage(env, "migrate", "--noinput")
        payload = base64.b64encode(os.urandom(PAYLOAD_BYTES))[:PAYLOAD_BYTES].decode()
        body = upload_body(payload)
        account = json.dumps(
            {"email": f"bench-{secrets.token_hex(6)}@example.com", "password": secrets.token_urlsafe(16)}
        )
        database = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
        print(f"payload {PAYLOAD_BYTES / MIB:g} MiB, request body {len(body) / MIB:.2f} MiB, {database}")

        with gunicorn(env) as worker:
            status, answer = request("POST", "/api/auth/register", account.encode())
            assert status == 201, answer
            token = json.loads(answer)["access"]
            assert request("POST", "/api/sync/backup", upload_body("warm-up"), token)[0] == 201

            def upload():
                status, answer = request("POST", "/api/sync/backup", body, token)
                assert status == 201, answer
                assert json.loads(answer)["data_size"] == PAYLOAD_BYTES

            report("upload (POST /api/sync/backup)", peak_growth(worker, upload))
            body = upload_body(payload[::-1])
            report("  the next upload", peak_growth(worker, upload))

        with gunicorn(env) as worker:
            status, listing = request("GET", "/api/sync/backup", token=token)
            warm_up_id = json.loads(listing)[-1]["id"]
            assert request("GET", f"/api/sync/backup/{warm_up_id}", token=token)[0] == 200

            def download():
                status, answer = request("GET", "/api/sync/backup/latest", token=token)
                assert status == 200
                assert json.loads(answer)["encrypted_data"] == payload[::-1]

            report("download (GET .../backup/latest)", peak_growth(worker, download))
            report("  the next download", peak_growth(worker, download))
            password = json.loads(account)["password"]
            deleted = request(
                "DELETE", "/api/auth/profile", json.dumps({"password": password}).encode(), token
            )
            assert deleted[0] == 204


if __name__ == "__main__":
    main()
