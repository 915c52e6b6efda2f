"""A database outage or restart: readiness says so, writes fail cleanly, and service resumes
by itself, at once after a restart."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from accounts.models import User
from testing.helpers import http, live_gunicorn, postgres_only, proxied_database_url

BODY = {"email": "carol@example.com", "password": "a sturdy passphrase 42"}


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_readiness_and_writes_follow_the_database_down_and_back_up(database_proxy):
    with live_gunicorn(DATABASE_URL=proxied_database_url(database_proxy), GUNICORN_THREADS="1") as (
        _,
        base_url,
    ):
        assert http("GET", f"{base_url}/health/ready")[0] == 200

        database_proxy.cut()
        status, _, body = http("GET", f"{base_url}/health/ready")
        assert (status, body["checks"]["database"]) == (503, "error")
        status, _, body = http("POST", f"{base_url}/api/auth/register", BODY)
        assert status == 503
        assert body == {"detail": "The database is unavailable; try again later."}

        database_proxy.restore()
        assert not User.objects.exists()
        assert http("GET", f"{base_url}/health/ready")[0] == 200
        assert http("POST", f"{base_url}/api/auth/register", BODY)[0] == 201
        assert User.objects.get().email == "carol@example.com"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_requests_right_after_a_database_restart_are_served(database_proxy, alice, tokens_for):
    token = tokens_for(alice)["access"]
    url = proxied_database_url(database_proxy)

    with live_gunicorn(DATABASE_URL=url, GUNICORN_THREADS="4") as (_, base_url):

        def list_devices(_=None):
            return http("GET", f"{base_url}/api/sync/status", token=token)[0]

        # Every thread has served requests, so the worker holds several connections.
        with ThreadPoolExecutor(4) as clients:
            assert list(clients.map(list_devices, range(12))) == [200] * 12
        # A restart: every connection is dropped, and the database answers again at once.
        database_proxy.cut()
        database_proxy.restore()

        assert [list_devices() for _ in range(3)] == [200, 200, 200]
