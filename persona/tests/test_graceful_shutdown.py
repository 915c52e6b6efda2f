"""Graceful shutdown: SIGTERM to gunicorn's master while a large backup is still being
uploaded lets that upload finish and be stored exactly once, and then the server exits 0."""

import json
import os
import secrets
import select
import signal
import socket
import subprocess
import time

import pytest
from django.db import connection

from backups.models import UserBackup
from backups.tests.helpers import sha256
from persona.testing import live_gunicorn, postgres_only

PAYLOAD_BYTES = 4 * 1024 * 1024
PIECES = 16
SECONDS_BETWEEN_PIECES = 0.03
WAIT_SECONDS = 20
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def server_env() -> dict:
    # The server shares the test database, which it can reach only on PostgreSQL.
    db = connection.settings_dict
    return {"DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}


def wait_for_log_line(server, text: str) -> None:
    # Raw reads: a buffered readline could pull the line into Python's buffer, where
    # select() no longer sees it.
    seen = ""
    deadline = time.monotonic() + WAIT_SECONDS
    while text not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([server.stderr], [], [], remaining)[0]:
            pytest.fail(f"gunicorn never logged {text!r}")
        chunk = os.read(server.stderr.fileno(), 65536)
        if not chunk:
            pytest.fail(f"gunicorn exited without logging {text!r}")
        seen += chunk.decode(errors="replace")


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    received = b""
    while len(received) < size and (chunk := sock.recv(size - len(received))):
        received += chunk
    return received


def read_response(sock: socket.socket) -> tuple[int, dict]:
    raw = b""
    while chunk := sock.recv(65536):
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_sigterm_mid_upload_finishes_the_upload_stores_it_once_and_exits_cleanly(alice, tokens_for):
    data = secrets.token_urlsafe(PAYLOAD_BYTES)[:PAYLOAD_BYTES]
    body = json.dumps({"encrypted_data": data, "checksum": sha256(data)}).encode()
    piece = len(body) // PIECES + 1

    with live_gunicorn(stderr=subprocess.PIPE, **server_env()) as (server, base_url):
        port = int(base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS) as sock:
            sock.sendall(
                b"POST /api/sync/backup HTTP/1.1\r\n"
                b"Host: 127.0.0.1\r\n"
                b"Authorization: Bearer " + tokens_for(alice)["access"].encode() + b"\r\n"
                b"Content-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                b"Expect: 100-continue\r\n"
                b"Connection: close\r\n\r\n"
            )
            # gunicorn answers 100 Continue once a worker has taken the request.
            assert recv_exactly(sock, len(CONTINUE)) == CONTINUE
            sock.sendall(body[:piece])

            server.send_signal(signal.SIGTERM)
            wait_for_log_line(server, "Handling signal: term")
            for start in range(piece, len(body), piece):
                time.sleep(SECONDS_BETWEEN_PIECES)  # the rest arrives while the server shuts down
                sock.sendall(body[start : start + piece])

            status, answer = read_response(sock)

        assert server.wait(timeout=WAIT_SECONDS) == 0

    assert status == 201
    assert answer["checksum"] == sha256(data)
    assert answer["data_size"] == PAYLOAD_BYTES
    stored = UserBackup.objects.get(user=alice)
    assert str(stored.id) == answer["id"]
    assert stored.checksum == sha256(data)
    assert stored.encrypted_data == data
