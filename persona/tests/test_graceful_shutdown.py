"""Graceful shutdown: SIGTERM to gunicorn's master while a large backup is still being
uploaded lets that upload finish and be stored exactly once, and then the server exits 0.
Meanwhile new connections are refused at once rather than left hanging; a HUP reload or a
max_requests restart, which replace one worker while the server keeps running, serve on."""

import json
import secrets
import signal
import socket
import time
from http.client import HTTPResponse

import pytest
from django.db import connection

from backups.models import UserBackup
from backups.storage import payload_read_all
from backups.tests.helpers import sha256
from testing.helpers import http, live_gunicorn, postgres_only, wait_for_log_line

PAYLOAD_BYTES = 4 * 1024 * 1024
PIECES = 16
SECONDS_BETWEEN_PIECES = 0.03
WAIT_SECONDS = 20
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def server_env() -> dict:
    # The server shares the test database, which it can reach only on PostgreSQL.
    db = connection.settings_dict
    return {"DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}


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

    with live_gunicorn(**server_env()) as (server, base_url):
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

            server.process.send_signal(signal.SIGTERM)
            wait_for_log_line(server, "Handling signal: term")
            for start in range(piece, len(body), piece):
                time.sleep(SECONDS_BETWEEN_PIECES)  # the rest arrives while the server shuts down
                sock.sendall(body[start : start + piece])

            status, answer = read_response(sock)

        assert server.process.wait(timeout=WAIT_SECONDS) == 0

    assert status == 201
    assert answer["checksum"] == sha256(data)
    assert answer["data_size"] == PAYLOAD_BYTES
    stored = UserBackup.objects.get(user=alice)
    assert str(stored.id) == answer["id"]
    assert stored.checksum == sha256(data)
    assert payload_read_all(stored.storage_key) == data.encode()


def connection_refused_within(port: int, seconds: float) -> bool:
    """Whether a new connection is refused within `seconds`. One accepted in the meantime
    must not hang: it is either answered or reset within a second."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                sock.recv(1)
        except ConnectionRefusedError:
            return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            pass
        time.sleep(0.05)
    return False


def test_sigterm_refuses_new_connections_while_a_request_in_flight_finishes():
    with live_gunicorn() as (server, base_url):
        port = int(base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS) as in_flight:
            # A worker has taken the connection once it answers; a request whose headers are
            # not finished then keeps that worker busy.
            in_flight.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            first = HTTPResponse(in_flight)
            first.begin()
            first.read()
            in_flight.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")

            server.process.send_signal(signal.SIGTERM)
            wait_for_log_line(server, "Handling signal: term")
            refused = connection_refused_within(port, seconds=5)

            in_flight.sendall(b"\r\n")
            status, _ = read_response(in_flight)

        assert server.process.wait(timeout=WAIT_SECONDS) == 0

    assert first.status == 200
    assert refused
    assert status == 200


def test_a_hup_reload_keeps_serving_new_connections():
    with live_gunicorn() as (server, base_url):
        server.process.send_signal(signal.SIGHUP)
        wait_for_log_line(server, "Worker exiting")

        statuses = [http("GET", f"{base_url}/health")[0] for _ in range(5)]

    assert statuses == [200] * 5


def test_max_requests_restarts_keep_serving_new_connections():
    with live_gunicorn(GUNICORN_CMD_ARGS="--max-requests 2") as (_, base_url):
        statuses = [http("GET", f"{base_url}/health")[0] for _ in range(8)]

    assert statuses == [200] * 8
