"""A flood of password checks against a real gunicorn never stalls the other requests.

bcrypt holds a CPU for a quarter of a second per check. Before, each worker queued its checks
on a lock, so 48 connections guessing passwords left every thread waiting and /health took
14 s; now a check that finds the worker's hashing slot taken is answered 503 at once, and
rate limits stop one client long before that.
"""

import http.client
import json
import statistics
import threading
import time
from urllib.parse import urlsplit

import pytest

from testing.helpers import PASSWORD, live_gunicorn

WRONG = {"email": "victim@example.com", "password": "not the password"}


def call(base, method, path, body=None, *, headers=None, source="127.0.0.1"):
    """One request on a fresh connection from `source`: (status, seconds, parsed body)."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=30, source_address=(source, 0)
    )
    payload = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
    headers = {"Content-Type": "application/json", **(headers or {})}
    started = time.monotonic()
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    answer = json.loads(raw) if response.getheader("Content-Type", "").startswith("application/json") else raw
    return response.status, time.monotonic() - started, answer


def flood(base, requests, *, connections, seconds):
    """Sends `requests` (callables of base) from `connections` threads for `seconds`."""
    statuses, stop = [], threading.Event()

    def run(send):
        while not stop.is_set():
            statuses.append(send(base))

    threads = [threading.Thread(target=run, args=(requests[n % len(requests)],)) for n in range(connections)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def admin_guess(base):
    """A wrong password posted to the admin's sign-in form, with the form's CSRF token."""
    _, _, page = call(base, "GET", "/admin/login/")
    token = page.decode().split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    return call(
        base,
        "POST",
        "/admin/login/",
        f"csrfmiddlewaretoken={token}&username=victim%40example.com&password=wrong",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={token}"},
    )[0]


def api_guess(base):
    return call(base, "POST", "/api/auth/login", WRONG)[0]


@pytest.fixture
def server(tmp_path):
    def start(**env):
        return live_gunicorn(
            migrate=True, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", GUNICORN_THREADS="8", **env
        )

    return start


def test_guessers_without_rate_limits_get_503s_and_health_stays_fast(server):
    with server(RATELIMIT_ENABLE="0") as (_, base):
        assert call(base, "POST", "/api/auth/register", {**WRONG, "password": PASSWORD})[0] == 201
        health = []

        def measure():
            while len(health) < 40:
                health.append(call(base, "GET", "/health")[1])
                time.sleep(0.05)

        watcher = threading.Thread(target=measure)
        watcher.start()
        guesses = flood(base, [api_guess, admin_guess], connections=24, seconds=4)
        watcher.join(timeout=60)

    assert 503 in guesses  # the hashing slot was taken: refused at once, not queued
    assert {401, 200} & set(guesses)  # some were checked (the admin form answers 200 with an error)
    assert set(guesses) <= {200, 401, 503}
    assert statistics.median(health) < 0.5
    assert max(health) < 3


def test_a_victim_signs_in_while_another_client_floods_password_checks(server):
    with server() as (_, base):
        _, _, attacker = call(base, "POST", "/api/auth/register", {**WRONG, "email": "mallory@example.com"})
        assert call(base, "POST", "/api/auth/register", {**WRONG, "password": PASSWORD})[0] == 201
        bearer = {"Authorization": f"Bearer {attacker['access']}"}

        def change_password(base):
            body = {"old_password": "guess", "new_password": "another passphrase 42"}
            return call(base, "POST", "/api/auth/password", body, headers=bearer)[0]

        attack = threading.Thread(
            target=flood, args=(base, [change_password]), kwargs={"connections": 16, "seconds": 4}
        )
        attack.start()
        time.sleep(1)
        signed_in = [sign_in_as_a_client_would(base) for _ in range(3)]
        attack.join(timeout=60)

    assert [status for status, _ in signed_in] == [200, 200, 200]
    assert max(seconds for _, seconds in signed_in) < 5


def sign_in_as_a_client_would(base):
    """The victim's sign-in from another address, retried after Retry-After on a 503 (the
    hashing slot was taken at that moment): (final status, seconds until then)."""
    started = time.monotonic()
    for _ in range(10):
        status = call(base, "POST", "/api/auth/login", {**WRONG, "password": PASSWORD}, source="127.0.0.2")[0]
        if status != 503:
            break
        time.sleep(1)  # the Retry-After of a busy answer
    return status, time.monotonic() - started
