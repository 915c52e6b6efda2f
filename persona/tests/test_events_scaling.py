"""Live events in the production topology: the WSGI `web` and ASGI `events` processes of the
Procfile, several of them, sharing one PostgreSQL database and one Redis; and Redis failing."""

import contextlib
import time

import pytest
from django.conf import settings
from django.db import connection
from websockets.exceptions import ConnectionClosed

from accounts.models import User
from accounts.services import users_deactivate
from testing.events import Account, close_code, ready, receive, socket
from testing.helpers import TcpProxy, http, live_events, live_gunicorn, postgres_only

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis; set REDIS_URL to run it")

pytestmark = [postgres_only, needs_redis, pytest.mark.django_db(transaction=True)]

OUTAGES = 5


def shared_env(redis_url: str | None = None) -> dict:
    db = connection.settings_dict
    return {
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": redis_url or settings.REDIS_URL,
        "RATELIMIT_REGISTER_IP": "1000/m",
        "RATELIMIT_LOGIN_IP": "1000/m",
        "RATELIMIT_LOGIN_EMAIL": "1000/m",
        "TRUSTED_PROXY_COUNT": "1",
    }


def test_devices_on_two_instances_hear_a_sync_stored_by_a_third():
    env = shared_env()
    with live_gunicorn(**env) as (_, web), live_events(**env) as first, live_events(**env) as second:
        account = Account(web)
        with (
            socket(first.base_url, account.access("phone")) as phone,
            socket(second.base_url, account.access("tablet")) as tablet,
        ):
            ready(phone)
            ready(tablet)
            report = account.sync("laptop")
            assert receive(phone)["data"] == report
            assert receive(tablet)["data"] == report

            assert account.call("POST", "/api/auth/logout-all", "laptop")[0] == 205
            started = time.monotonic()
            assert close_code(phone, timeout=1) == 4003
            assert close_code(tablet, timeout=1) == 4003
            assert time.monotonic() - started < 1


def test_a_reconnecting_device_replays_from_the_shared_backlog():
    env = shared_env()
    with live_gunicorn(**env) as (_, web), live_events(**env) as first, live_events(**env) as second:
        account = Account(web)
        with socket(first.base_url, account.access("tablet")) as tablet:
            ready(tablet)
            account.sync("phone")
            last_seen = receive(tablet)["id"]
        missed = account.sync("phone")
        with socket(second.base_url, account.access("tablet"), query=f"last_event_id={last_seen}") as tablet:
            ready(tablet)
            assert receive(tablet)["data"] == missed


def test_deactivating_a_user_in_the_admin_closes_their_sockets():
    env = shared_env()
    with live_gunicorn(**env) as (_, web), live_events(**env) as events_server:
        account = Account(web)
        with socket(events_server.base_url, account.access("phone")) as phone:
            ready(phone)
            users_deactivate(users=User.objects.filter(email=account.email))
            assert close_code(phone, timeout=1) == 4003


@contextlib.contextmanager
def reconnected(base_url: str, token: str, attempts: int = 10):
    """A socket as a client gets one after an outage: retrying, with a pause, until `ready`
    (the first attempts may still meet the layer's broken connections, and close with 1011)."""
    for attempt in range(attempts):
        with socket(base_url, token) as ws:
            try:
                ready(ws)
            except ConnectionClosed:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2)
                continue
            yield ws
            return


def test_when_redis_goes_down_sockets_close_with_1011_and_rest_keeps_working():
    redis = TcpProxy(target_port=6379)
    try:
        database = int(settings.REDIS_URL.rsplit("/", 1)[1] or 0)
        env = shared_env(f"redis://127.0.0.1:{redis.port}/{database}")
        with live_gunicorn(**env) as (_, web), live_events(**env) as events_server:
            account = Account(web)
            account.access("tablet")
            with socket(events_server.base_url, account.access("phone")) as phone:
                ready(phone)
                redis.cut()
                assert close_code(phone) == 1011
            with socket(events_server.base_url, account.access("phone")) as phone:
                assert close_code(phone) == 1011

            account.sync("tablet")  # 201: the event is lost, the report is not
            status, devices = account.call("GET", "/api/sync/status", "tablet")
            assert status == 200
            assert [device["sync_version"] for device in devices] == [1]
            assert http("GET", f"{events_server.base_url}/health")[0] == 200

            redis.restore()
            with reconnected(events_server.base_url, account.access("phone")) as phone:
                report = account.sync("tablet")
                assert receive(phone)["data"] == report

            # More outages: the channel layer must come back every time (with redis-py 8.1
            # its first command after one could hang for good).
            for _ in range(OUTAGES):
                with socket(events_server.base_url, account.access("phone")) as phone:
                    ready(phone)
                    redis.cut()
                    assert close_code(phone) == 1011
                redis.restore()
                with reconnected(events_server.base_url, account.access("phone")) as phone:
                    report = account.sync("tablet")
                    assert receive(phone)["data"] == report
    finally:
        redis.close()
