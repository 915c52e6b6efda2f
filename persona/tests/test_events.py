"""The live events socket, /ws/events, against the real ASGI server (gunicorn with uvicorn
workers, as the Procfile's `events` runs it), serving HTTP too as `make run` does; its own
SQLite database and the in-memory channel layer. Devices are `websockets` clients."""

import contextlib
import hashlib
import json
import time

import jwt
import pytest
from django.conf import settings

from testing import servers
from testing.events import Account, close_code, ready, receive, socket
from testing.helpers import PASSWORD, http, live_events, live_nginx, needs_nginx

BACKLOG = 5
SOCKETS_PER_USER = 3
SOCKETS_PER_ADDRESS = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("events")
    env = {
        "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
        "REDIS_URL": "",
        "RATELIMIT_REGISTER_IP": "1000/m",
        "RATELIMIT_LOGIN_IP": "1000/m",
        "RATELIMIT_LOGIN_EMAIL": "1000/m",
        "RATELIMIT_PASSWORD_USER": "1000/m",
        "TRUSTED_PROXY_COUNT": "1",
        "EVENTS_BACKLOG": str(BACKLOG),
        "EVENTS_MAX_SOCKETS_PER_USER": str(SOCKETS_PER_USER),
        "EVENTS_MAX_SOCKETS_PER_ADDRESS": str(SOCKETS_PER_ADDRESS),
        "EVENTS_AUTH_SECONDS": "1",
    }
    servers.manage(servers.production_env(**env), "migrate", "--noinput")
    with live_events(**env) as events_server:
        yield events_server.base_url


@pytest.fixture(scope="module")
def account(server):
    """One account shared by the tests that change nothing but its sync versions."""
    return Account(server)


@pytest.fixture
def alice(server):
    """A fresh account, for the tests that sign out or delete."""
    return Account(server)


def short_lived(token: str, seconds: int) -> str:
    """The access token again, expiring in `seconds` (signed with the servers' JWT_SECRET)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(
        {**claims, "exp": int(time.time()) + seconds}, settings.SIMPLE_JWT["SIGNING_KEY"], "HS256"
    )


def test_a_device_hears_another_devices_sync_at_once(server, account):
    with socket(server, account.access("tablet")) as tablet:
        assert ready(tablet)["device_id"] == "tablet"
        report = account.sync("phone")
        event = receive(tablet)
    assert event["type"] == "sync.version"
    assert event["source_device"] == "phone"
    assert event["data"] == report
    assert event["id"]
    assert event["time"].endswith("Z")


def test_a_device_may_opt_out_of_its_own_echo(server, account):
    with socket(server, account.access("phone"), query="echo=0") as phone:
        ready(phone)
        account.sync("phone")
        account.sync("tablet")
        assert receive(phone)["source_device"] == "tablet"


def test_a_device_hears_its_own_events_by_default(server, account):
    with socket(server, account.access("phone")) as phone:
        ready(phone)
        account.sync("phone")
        assert receive(phone)["source_device"] == "phone"


def test_another_users_events_never_arrive(server, account):
    bob = Account(server, device="laptop")
    with socket(server, bob.access("laptop")) as laptop:
        ready(laptop)
        account.sync("phone")
        report = bob.sync("laptop")
        # One user's events arrive in order: bob's first event is his own, so alice's never came.
        assert receive(laptop)["data"] == report


def test_a_retried_or_refused_report_sends_nothing(server, account):
    with socket(server, account.access("tablet")) as tablet:
        ready(tablet)
        first = account.sync("phone")
        account.sync("phone", first["sync_version"])  # a retry
        second = account.sync("phone")
        stale = {**first, "data_hash": "0" * 64}
        assert account.call("POST", "/api/sync/status", "phone", stale)[0] == 409
        assert [receive(tablet)["data"] for _ in range(2)] == [first, second]
        with pytest.raises(TimeoutError):
            tablet.recv(timeout=0.5)


def test_backups_created_and_deleted_are_announced(server, account):
    payload = "ciphertext"
    upload = {
        "encrypted_data": payload,
        "checksum": hashlib.sha256(payload.encode()).hexdigest(),
        "device_id": "phone",
    }
    with socket(server, account.access("tablet")) as tablet:
        ready(tablet)
        status, backup = account.call("POST", "/api/sync/backup", "phone", upload)
        assert status == 201
        created = receive(tablet)
        assert account.call("DELETE", f"/api/sync/backup/{backup['id']}", "phone")[0] == 204
        deleted = receive(tablet)
    assert created["type"] == "backup.created"
    assert created["data"] == {
        "backup_id": backup["id"],
        "device_id": "phone",
        "sync_version": None,
        "data_size": 10,
    }
    assert deleted["type"] == "backup.deleted"
    assert deleted["data"] == {"backup_id": backup["id"]}


def test_a_browser_sends_the_token_as_a_subprotocol(server, account):
    token = account.access("tablet")
    with socket(server, subprotocols=["persona.events.v1", f"bearer.{token}"]) as browser:
        assert browser.subprotocol == "persona.events.v1"
        assert ready(browser)["device_id"] == "tablet"


def test_the_token_may_come_in_the_first_message(server, account):
    with socket(server) as browser:
        browser.send(json.dumps({"type": "auth", "token": account.access("tablet")}))
        assert ready(browser)["device_id"] == "tablet"


@pytest.mark.parametrize(
    "token",
    ["not-a-token", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"],
    ids=["garbage", "bad-signature"],
)
def test_a_bad_token_closes_with_4001(server, token):
    with socket(server, token) as ws:
        assert close_code(ws) == 4001


def test_a_refresh_token_is_not_an_access_token(server, account):
    with socket(server, account.tokens["phone"]["refresh"]) as ws:
        assert close_code(ws) == 4001


def test_a_socket_without_a_token_is_closed_after_the_auth_delay(server):
    with socket(server) as ws:
        assert close_code(ws) == 4001


def test_the_socket_closes_when_its_token_expires(server, account):
    with socket(server, short_lived(account.access("phone"), 1)) as phone:
        ready(phone)
        assert close_code(phone) == 4001


def test_a_fresh_token_in_an_auth_message_keeps_the_socket_open(server, account):
    with socket(server, short_lived(account.access("phone"), 1)) as phone:
        ready(phone)
        phone.send(json.dumps({"type": "auth", "token": account.access("phone")}))
        time.sleep(1.5)
        account.sync("tablet")
        assert receive(phone)["type"] == "sync.version"


def test_a_socket_stays_with_its_user(server, account, alice):
    with socket(server, account.access("phone")) as phone:
        ready(phone)
        phone.send(json.dumps({"type": "auth", "token": alice.access("phone")}))
        assert close_code(phone) == 4400


def test_ping_is_answered_with_pong(server, account):
    with socket(server, account.access("phone")) as phone:
        ready(phone)
        phone.send(json.dumps({"type": "ping"}))
        assert receive(phone)["type"] == "pong"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", 4400),
        ("[1, 2]", 4400),
        ('{"no": "type"}', 4400),
        ('{"type": "subscribe", "user": "someone-else"}', 4400),
        (b"\x00binary", 4400),
        (json.dumps({"type": "ping", "padding": "x" * 5000}), 1009),
        (json.dumps({"type": "ping", "padding": "é" * 3000}, ensure_ascii=False), 1009),
    ],
    ids=["not-json", "not-an-object", "no-type", "unknown-type", "binary", "too-big", "too-big-in-bytes"],
)
def test_a_malformed_message_closes_the_socket(server, account, message, code):
    with socket(server, account.access("phone")) as phone:
        ready(phone)
        phone.send(message)
        assert close_code(phone) == code


def test_a_malformed_last_event_id_closes_with_4400(server, account):
    with socket(server, account.access("phone"), query="last_event_id=yesterday") as phone:
        assert close_code(phone) == 4400


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/api/auth/logout", lambda refresh: {"refresh": refresh}, 205),
        ("/api/auth/logout-all", None, 205),
        (
            "/api/auth/password",
            lambda _: {"old_password": PASSWORD, "new_password": "another long passphrase 42"},
            200,
        ),
        ("/api/auth/profile/delete", lambda _: {"password": PASSWORD}, 204),
        ("/api/sync/status/phone", None, 204),
    ],
    ids=["logout", "logout-all", "password-change", "account-deletion", "device-deactivation"],
)
def test_signing_out_closes_the_device_socket_within_a_second(server, alice, path, body, expected):
    method = "DELETE" if path.startswith("/api/sync/status/") else "POST"
    with socket(server, alice.access("phone")) as phone:
        ready(phone)
        payload = body(alice.tokens["phone"]["refresh"]) if body else None
        assert alice.call(method, path, "phone", payload)[0] == expected
        started = time.monotonic()
        assert close_code(phone, timeout=1) == 4003
        assert time.monotonic() - started < 1


def test_a_logout_leaves_the_other_devices_sockets_open(server, alice):
    with socket(server, alice.access("phone")) as phone, socket(server, alice.access("tablet")) as tablet:
        ready(phone)
        ready(tablet)
        alice.call("POST", "/api/auth/logout", "phone", {"refresh": alice.tokens["phone"]["refresh"]})
        assert close_code(phone) == 4003
        alice.sync("tablet")
        assert receive(tablet)["type"] == "sync.version"


def test_deactivating_a_device_is_announced_to_the_others(server, alice):
    alice.sync("phone")
    with socket(server, alice.access("tablet")) as tablet:
        ready(tablet)
        assert alice.call("DELETE", "/api/sync/status/phone", "tablet")[0] == 204
        event = receive(tablet)
    assert event["type"] == "sync.device_deactivated"
    assert event["data"] == {"device_id": "phone"}


def test_a_reconnecting_device_gets_what_it_missed(server, account):
    with socket(server, account.access("tablet")) as tablet:
        ready(tablet)
        account.sync("phone")
        last_seen = receive(tablet)["id"]
    missed_reports = [account.sync("phone"), account.sync("phone")]
    with socket(server, account.access("tablet"), query=f"last_event_id={last_seen}") as tablet:
        ready(tablet)
        missed = [receive(tablet) for _ in range(2)]
        live_report = account.sync("phone")
        live = receive(tablet)
    assert [event["data"] for event in missed] == missed_reports
    assert live["data"] == live_report


def test_a_gap_longer_than_the_backlog_asks_for_a_resync(server, account):
    with socket(server, account.access("tablet")) as tablet:
        ready(tablet)
        account.sync("phone")
        last_seen = receive(tablet)["id"]
    for _ in range(BACKLOG + 1):
        account.sync("phone")
    with socket(server, account.access("tablet"), query=f"last_event_id={last_seen}") as tablet:
        ready(tablet)
        assert receive(tablet)["type"] == "resync"


def test_a_user_has_a_limited_number_of_sockets(server, account):
    token = account.access("phone")
    with contextlib.ExitStack() as stack:
        for _ in range(SOCKETS_PER_USER):
            ready(stack.enter_context(socket(server, token)))
        with socket(server, token) as one_too_many:
            assert close_code(one_too_many) == 4029
    with socket(server, token) as later:
        ready(later)


def test_an_address_has_a_limited_number_of_sockets(server):
    with contextlib.ExitStack() as stack:
        for _ in range(SOCKETS_PER_ADDRESS):
            stack.enter_context(socket(server, address="10.9.9.9"))
        with socket(server, address="10.9.9.9") as one_too_many:
            assert close_code(one_too_many) == 4029
        with socket(server, address="10.9.9.8") as elsewhere:
            elsewhere.send(json.dumps({"type": "ping"}))
            assert receive(elsewhere)["type"] == "pong"


def test_rest_answers_on_the_asgi_server_too(server, account):
    assert http("GET", f"{server}/health")[0] == 200
    assert account.call("GET", "/api/sync/status", "phone")[0] == 200


@needs_nginx
def test_events_pass_through_the_proxy(server, account, tmp_path):
    port = int(server.rsplit(":", 1)[1])
    with (
        live_nginx(upstream_port=port, events_port=port, directory=tmp_path) as proxy,
        socket(proxy, account.access("tablet")) as tablet,
    ):
        ready(tablet)
        report = account.sync("phone")
        assert receive(tablet)["data"] == report
        tablet.send(json.dumps({"type": "ping"}))
        assert receive(tablet)["type"] == "pong"
