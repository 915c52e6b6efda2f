"""The production topology: nginx with deploy/nginx.conf in front of gunicorn.

nginx reads whole requests before gunicorn sees them, so slow clients cost gunicorn nothing;
it refuses malformed requests itself, in JSON; and it passes the client's address and a
request id on to the app, which counts exactly one proxy (TRUSTED_PROXY_COUNT=1).
"""

import contextlib
import json
import math
import re
import resource
import socket
import threading
import time
from http.client import HTTPConnection, HTTPResponse

import pytest

from testing.helpers import free_port, http, live_gunicorn, live_nginx, needs_nginx

pytestmark = needs_nginx

SLOW_CLIENTS = 1000
PROBES = 200
# Generous next to the target, for slow CI machines: a stalled server takes seconds
# per probe.
P99_BOUND_SECONDS = 1.0
PROBE_TIMEOUT_SECONDS = 5
VERIFY_LIMIT = 2
REFUSED_UPLOADS = 20


@pytest.fixture(scope="module")
def open_files():
    """Room for the slow clients' sockets, in this process and in the nginx it starts."""
    wanted = 4 * SLOW_CLIENTS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"needs {wanted} open files; the hard limit here is {hard}")
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """gunicorn as production runs it behind the proxy; yields (process, port, log file)."""
    directory = tmp_path_factory.mktemp("app")
    log = directory / "gunicorn.log"
    with live_gunicorn(
        migrate=True,
        log=log,
        DATABASE_URL=f"sqlite:///{directory / 'db.sqlite3'}",
        REDIS_URL="",
        TRUSTED_PROXY_COUNT="1",
        RATELIMIT_VERIFY_IP=f"{VERIFY_LIMIT}/h",
    ) as (server, base_url):
        yield server, int(base_url.rsplit(":", 1)[1]), log


@pytest.fixture(scope="module")
def proxy(open_files, app, tmp_path_factory):
    """nginx in front of the app; yields (base URL, port, nginx's directory)."""
    directory = tmp_path_factory.mktemp("nginx")
    with live_nginx(upstream_port=app[1], directory=directory) as base_url:
        yield base_url, int(base_url.rsplit(":", 1)[1]), directory


# --- slow clients ---------------------------------------------------------------------------


class SlowClients:
    """Connections that send their request a little at a time and never finish it: half stop
    in the middle of their headers, half in the middle of a large body."""

    HEADERS_ONLY = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    BODY_STARTED = (
        b"POST /api/sync/backup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000\r\n\r\n{"
    )

    def __init__(self, port: int, count: int):
        self.sockets = []
        for number in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT_SECONDS)
            sock.sendall(self.HEADERS_ONLY if number % 2 else self.BODY_STARTED)
            sock.setblocking(False)
            self.sockets.append(sock)
        self._stop = threading.Event()
        self._trickler = threading.Thread(target=self._trickle)
        self._trickler.start()

    def _trickle(self):
        while not self._stop.wait(0.5):
            for number, sock in enumerate(self.sockets):
                with contextlib.suppress(OSError):
                    sock.send(b"X-Slow: 1\r\n" if number % 2 else b" ")

    def still_waiting(self) -> int:
        """How many are still open without an answer (neither refused, answered nor closed)."""
        waiting = 0
        for sock in self.sockets:
            try:
                sock.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                waiting += 1
            except OSError:
                pass
        return waiting

    def close(self):
        self._stop.set()
        self._trickler.join(timeout=10)
        for sock in self.sockets:
            sock.close()


def health_seconds(port: int) -> float:
    """One /health probe on a new connection, as a load balancer sends it; its duration."""
    started = time.perf_counter()
    connection = HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT_SECONDS)
    try:
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 200
    return time.perf_counter() - started


def test_health_stays_fast_while_a_thousand_slow_clients_hold_connections(proxy):
    _, port, _ = proxy
    slow = SlowClients(port, SLOW_CLIENTS)
    try:
        durations = sorted(health_seconds(port) for _ in range(PROBES))
        waiting = slow.still_waiting()
    finally:
        slow.close()

    p50, p99 = (durations[math.ceil(share * PROBES) - 1] * 1000 for share in (0.5, 0.99))
    figures = f"/health p50 {p50:.2f} ms, p99 {p99:.2f} ms, slowest {durations[-1] * 1000:.2f} ms"
    print(f"{figures} ({PROBES} probes, {waiting} of {SLOW_CLIENTS} slow clients waiting)")  # -rP shows it
    assert p99 < P99_BOUND_SECONDS * 1000, figures
    assert waiting == SLOW_CLIENTS  # the load was there all along


# --- malformed requests ---------------------------------------------------------------------


def exchange(port: int, request: bytes, source: str = "127.0.0.1") -> tuple[int, dict, bytes]:
    """Sends raw bytes on a new connection; the answer's status, headers and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as sock:
        sock.sendall(request)
        response = HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def get(extra_headers: bytes = b"", target: bytes = b"/health") -> bytes:
    head = b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    return head + extra_headers + b"Connection: close\r\n\r\n"


@pytest.mark.parametrize(
    ("request_bytes", "status", "detail"),
    [
        (get(target=b"/health?" + b"a" * 4096), 414, "The request line is too long."),
        (get(b"X-Large: " + b"a" * 5000 + b"\r\n"), 431, "A request header is too large."),
        (b"NOT HTTP AT ALL\r\n\r\n", 400, "Bad request."),
        (get(b"X-Folded: a\r\n b\r\n"), 400, "Bad request."),
        (get(target=b"/health%00"), 400, "Bad request."),
        (b"GET /health HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n", 505, "This HTTP version is not supported."),
        (
            b"POST /api/auth/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\nnot a chunk size\r\n",
            400,
            "Bad request.",
        ),
        (
            b"POST /api/sync/backup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999\r\n"
            b"Connection: close\r\n\r\n",
            413,
            "The request body is too large.",
        ),
    ],
    ids=["long-line", "large-header", "garbage", "folded-header", "nul", "http-9", "bad-chunk", "huge-body"],
)
def test_the_proxy_refuses_malformed_requests_in_json(proxy, request_bytes, status, detail):
    _, port, _ = proxy

    answer_status, headers, body = exchange(port, request_bytes)

    assert answer_status == status
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"detail": detail}


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Forwarded-Ssl: on\r\n",  # contradicts the proxy's X-Forwarded-Proto: http
        b"Expect: something-else\r\n",
        b"Content-Type: application/json\r\nContent-Type: text/plain\r\n",
    ],
    ids=["contradicting-scheme-header", "unknown-expectation", "repeated-content-type"],
)
def test_headers_gunicorn_would_refuse_with_an_html_page_do_not_reach_it(proxy, headers):
    _, port, _ = proxy

    status, response_headers, body = exchange(port, get(headers))

    assert status == 200
    assert response_headers["Content-Type"] == "application/json"
    assert json.loads(body)["status"] == "OK"


def test_large_uploads_the_app_refuses_unread_reach_the_client_as_the_apps_answers(proxy):
    # The app answers while nginx is still sending the body; had gunicorn then closed the
    # connection with the body unread, nginx would have lost the answer (a 503 here).
    base_url, _, _ = proxy
    body = {"encrypted_data": "a" * 10 * 1024 * 1024, "checksum": "0" * 64}

    answers = [http("POST", f"{base_url}/api/sync/backup", body) for _ in range(REFUSED_UPLOADS)]

    assert [status for status, _, _ in answers] == [401] * REFUSED_UPLOADS
    assert answers[0][2] == {"detail": "Authentication credentials were not provided."}


def test_an_unreachable_app_is_a_json_503_with_retry_after(tmp_path):
    with live_nginx(upstream_port=free_port(), directory=tmp_path) as base_url:
        status, headers, answer = http("GET", f"{base_url}/health")

    assert status == 503
    assert headers["Retry-After"] == "5"
    assert answer == {"detail": "Service temporarily unavailable, try again later."}


# --- what the app learns about the client ---------------------------------------------------


def verify(port: int, source: str, forwarded_for: str = "") -> int:
    spoofed = f"X-Forwarded-For: {forwarded_for}\r\n".encode() if forwarded_for else b""
    body = b'{"token": "not-a-token"}'
    request = (
        b"POST /api/auth/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + spoofed
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )
    return exchange(port, request, source=source)[0]


def test_the_app_rate_limits_the_address_the_proxy_saw_not_one_the_client_claims(proxy):
    _, port, _ = proxy

    # One client claiming a new address each time, then a second client from another address.
    claiming = [verify(port, "127.0.0.1", forwarded_for=f"127.0.0.{10 + n}") for n in range(VERIFY_LIMIT + 1)]
    other_client = verify(port, "127.0.0.2")

    assert claiming == [401] * VERIFY_LIMIT + [429]
    assert other_client == 401


def test_a_well_formed_request_id_from_the_client_comes_back(proxy):
    base_url, _, _ = proxy

    _, headers, _ = http("GET", f"{base_url}/health", headers={"X-Request-ID": "trace-42"})

    assert headers["X-Request-ID"] == "trace-42"


@pytest.mark.parametrize("sent", [{}, {"X-Request-ID": "not an id!"}], ids=["none", "malformed"])
def test_otherwise_the_proxys_request_id_is_in_its_log_the_apps_log_and_the_answer(proxy, app, sent):
    base_url, _, directory = proxy
    _, _, app_log = app

    _, headers, _ = http("GET", f"{base_url}/health", headers=sent)

    request_id = headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert logged(directory / "access.log", f'"request_id": "{request_id}"')
    assert logged(app_log, f'"request_id": "{request_id}"')


def logged(log, text: str) -> bool:
    """Whether `text` shows up in the log within a few seconds: nginx writes its access log
    line after it has sent the answer."""
    deadline = time.monotonic() + 5
    while text not in log.read_text():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
