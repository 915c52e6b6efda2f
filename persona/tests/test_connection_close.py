"""An answer given before the request's body was read, with more of the body left than
gunicorn drains afterwards, says `Connection: close`: gunicorn closes that connection, and
a client told so sends its next request on a new one instead of into a closing socket.
The rest of the body is read and dropped after the answer, so a client still sending it
gets the answer rather than a reset connection. Against a live gunicorn, mostly over raw
sockets (clients that read the answer while still sending)."""

import json
import socket
from http.client import HTTPResponse

import pytest

from backups.tests.helpers import URL, upload_body
from testing.helpers import PASSWORD, http, live_gunicorn

LIVE_LIMIT = 64 * 1024
LARGE = 1024 * 1024
WHOLE_BACKUP = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A gunicorn worker on its own SQLite file; yields (port, a signed-in user's token)."""
    directory = tmp_path_factory.mktemp("live")
    with live_gunicorn(
        migrate=True,
        log=directory / "gunicorn.log",
        DATABASE_URL=f"sqlite:///{directory / 'db.sqlite3'}",
        BACKUP_JSON_MAX_BYTES=str(LIVE_LIMIT),
    ) as (_, base_url):
        status, _, answer = http(
            "POST", f"{base_url}/api/auth/register", {"email": "live@example.com", "password": PASSWORD}
        )
        assert status == 201
        yield int(base_url.rsplit(":", 1)[1]), answer["access"]


def head(path: str, headers: dict) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(sock: socket.socket) -> tuple[int, str, dict]:
    response = HTTPResponse(sock)
    response.begin()
    return response.status, response.getheader("Connection"), json.loads(response.read())


def health_on(sock: socket.socket) -> int:
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return answer(sock)[0]


def test_an_upload_refused_before_its_body_is_read_says_connection_close(live):
    port, _ = live
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # No token: refused at once, with most of the megabyte still to come.
        sock.sendall(head(URL, {"Content-Length": LARGE}) + b"{" * 16 * 1024)

        status, connection, body = answer(sock)

    assert (status, connection) == (401, "close")
    assert body == {"detail": "Authentication credentials were not provided."}


def test_a_client_that_sends_a_whole_refused_upload_before_reading_gets_the_answer(live):
    port, _ = live
    body = upload_body("a" * WHOLE_BACKUP)

    # urllib, like most HTTP clients, sends the whole body before it reads the answer.
    status, _, answer = http("POST", f"http://127.0.0.1:{port}{URL}", body)

    assert status == 401
    assert answer == {"detail": "Authentication credentials were not provided."}


def test_an_oversized_upload_refused_by_its_content_length_says_connection_close(live):
    port, token = live
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head(URL, {"Content-Length": LARGE, "Authorization": f"Bearer {token}"}))

        status, connection, body = answer(sock)

    assert (status, connection) == (413, "close")
    assert body["code"] == "backup_too_large"


def test_a_chunked_upload_refused_before_its_end_says_connection_close(live):
    port, _ = live
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head(URL, {"Transfer-Encoding": "chunked"}) + b"4000\r\n" + b"{" * 0x4000 + b"\r\n")

        status, connection, _ = answer(sock)

    assert (status, connection) == (401, "close")


def test_a_small_unread_body_keeps_the_connection_for_the_next_request(live):
    port, _ = live
    body = json.dumps(upload_body("small")).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head(URL, {"Content-Length": len(body)}) + body)
        status, connection, _ = answer(sock)

        assert (status, connection) == (401, "keep-alive")
        assert health_on(sock) == 200


def test_a_body_read_to_its_end_keeps_the_connection(live):
    port, token = live
    body = json.dumps(upload_body("a" * LIVE_LIMIT)).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head(URL, {"Content-Length": len(body), "Authorization": f"Bearer {token}"}) + body)
        status, connection, _ = answer(sock)

        assert (status, connection) == (201, "keep-alive")
        assert health_on(sock) == 200
