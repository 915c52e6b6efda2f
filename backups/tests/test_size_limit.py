"""BACKUP_JSON_MAX_BYTES: 413 and nothing stored, however the client frames the body.

Wrong Content-Lengths and chunked bodies only exist on a real socket, so most of these
tests talk to a live gunicorn with a 64 KiB limit.
"""

import json
import socket
from http.client import HTTPResponse
from urllib.parse import urlsplit

import pytest

from backups.models import UserBackup
from backups.parsers import ENVELOPE_BYTES
from backups.tests.helpers import URL, upload_body
from testing.helpers import PASSWORD, http, live_gunicorn

LIVE_LIMIT = 64 * 1024
TOO_LARGE = {
    "detail": f"A backup may hold at most {LIVE_LIMIT} bytes (64 KiB) inside a JSON body; "
    "larger ones use the uploads endpoint.",
    "code": "backup_too_large",
    "limit": LIVE_LIMIT,
}


@pytest.fixture
def small_limit(settings):
    settings.BACKUP_JSON_MAX_BYTES = LIVE_LIMIT


def test_a_payload_of_exactly_the_limit_is_stored(alice_client, small_limit):
    response = alice_client.post(URL, upload_body("a" * LIVE_LIMIT), format="json")

    assert response.status_code == 201
    assert UserBackup.objects.get().data_size == LIVE_LIMIT


def test_djangos_smaller_request_body_limit_does_not_apply_to_uploads(alice_client, small_limit, settings):
    # Django refuses bodies past DATA_UPLOAD_MAX_MEMORY_SIZE when they are read whole
    # (`request.body`); uploads are read by their own bound, BACKUP_JSON_MAX_BYTES.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = alice_client.post(URL, upload_body("a" * (LIVE_LIMIT // 2)), format="json")

    assert response.status_code == 201
    assert UserBackup.objects.get().data_size == LIVE_LIMIT // 2


def test_a_payload_one_byte_over_the_limit_is_413(alice_client, small_limit):
    response = alice_client.post(URL, upload_body("a" * (LIVE_LIMIT + 1)), format="json")

    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert not UserBackup.objects.exists()


def test_the_limit_counts_utf8_bytes(alice_client, small_limit):
    # Half as many characters as the limit, but two bytes each plus one more.
    response = alice_client.post(URL, upload_body("é" * (LIVE_LIMIT // 2) + "a"), format="json")

    assert response.status_code == 413
    assert not UserBackup.objects.exists()


def test_a_body_past_the_envelope_allowance_is_413_before_parsing(alice_client, small_limit):
    body = json.dumps(upload_body("a")) + " " * (LIVE_LIMIT + ENVELOPE_BYTES)

    response = alice_client.post(URL, body, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert not UserBackup.objects.exists()


# --- a live gunicorn -------------------------------------------------------------------


def call(base: str, method: str, path: str, body=None, token=None) -> tuple[int, object]:
    status, _, answer = http(method, f"{base}{path}", body, token=token)
    return status, answer


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A gunicorn worker on its own SQLite file, and a signed-in user's token."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'db.sqlite3'}"
    with live_gunicorn(migrate=True, DATABASE_URL=database_url, BACKUP_JSON_MAX_BYTES=str(LIVE_LIMIT)) as (
        _,
        base,
    ):
        account = {"email": "live@example.com", "password": PASSWORD}
        status, answer = call(base, "POST", "/api/auth/register", account)
        assert status == 201
        yield urlsplit(base).port, base, answer["access"]


def post_raw(
    port: int, token: str, headers: dict, body_parts, content_type="application/json"
) -> tuple[int, dict]:
    """POSTs an upload over a raw socket, framed exactly as given."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = [
            f"POST {URL} HTTP/1.1",
            "Host: 127.0.0.1",
            f"Authorization: Bearer {token}",
            f"Content-Type: {content_type}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        try:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            for part in body_parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer before it has read everything
        response = HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())


def chunked(body: bytes, size: int = 16 * 1024):
    for start in range(0, len(body), size):
        piece = body[start : start + size]
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


def oversized_body() -> bytes:
    return json.dumps(upload_body("a" * (LIVE_LIMIT + ENVELOPE_BYTES + 1))).encode()


def assert_nothing_stored_and_healthy(base: str, token: str) -> None:
    assert call(base, "GET", URL, token=token) == (200, [])
    assert call(base, "GET", "/health")[0] == 200


def test_an_honest_oversized_content_length_is_413(live):
    port, base, token = live
    body = oversized_body()

    status, answer = post_raw(port, token, {"Content-Length": len(body)}, [body])

    assert (status, answer) == (413, TOO_LARGE)
    assert_nothing_stored_and_healthy(base, token)


def test_an_oversized_chunked_body_is_413(live):
    port, base, token = live

    status, answer = post_raw(port, token, {"Transfer-Encoding": "chunked"}, chunked(oversized_body()))

    assert (status, answer) == (413, TOO_LARGE)
    assert_nothing_stored_and_healthy(base, token)


def test_a_payload_over_the_limit_in_a_chunked_body_is_413(live):
    port, base, token = live
    body = json.dumps(upload_body("a" * (LIVE_LIMIT + 1))).encode()

    status, answer = post_raw(port, token, {"Transfer-Encoding": "chunked"}, chunked(body))

    assert (status, answer) == (413, TOO_LARGE)
    assert_nothing_stored_and_healthy(base, token)


def test_a_content_length_understating_an_oversized_body_is_still_413(live):
    port, base, token = live
    body = oversized_body() + b" " * 1024

    status, answer = post_raw(port, token, {"Content-Length": len(body) - 1024}, [body])

    assert (status, answer) == (413, TOO_LARGE)
    assert_nothing_stored_and_healthy(base, token)


def test_bytes_past_a_small_content_length_are_not_part_of_the_body(live):
    # HTTP frames the body by Content-Length: the server reads only the declared bytes
    # (a truncated document here), and what follows is not taken as part of the upload.
    port, base, token = live
    body = oversized_body()

    status, answer = post_raw(port, token, {"Content-Length": 1000}, [body])

    assert status == 400
    assert answer["detail"].startswith("JSON parse error")
    assert_nothing_stored_and_healthy(base, token)


def test_a_chunked_upload_within_the_limit_is_stored(live):
    port, base, token = live
    body = json.dumps(upload_body("a" * LIVE_LIMIT)).encode()

    status, answer = post_raw(port, token, {"Transfer-Encoding": "chunked"}, chunked(body))

    assert status == 201
    assert answer["data_size"] == LIVE_LIMIT
    stored = call(base, "GET", f"{URL}/{answer['id']}", token=token)[1]
    assert stored["encrypted_data"] == "a" * LIVE_LIMIT
    call(base, "DELETE", f"{URL}/{answer['id']}", token=token)


def test_a_chunked_body_that_is_not_json_is_415(live):
    port, base, token = live
    body = json.dumps(upload_body("a")).encode()

    status, answer = post_raw(port, token, {"Transfer-Encoding": "chunked"}, chunked(body), "text/plain")

    assert (status, answer) == (415, {"detail": 'Unsupported media type "text/plain" in request.'})
    assert_nothing_stored_and_healthy(base, token)
