"""More concurrent requests than PostgreSQL takes connections: requests wait briefly for a
pooled connection or get a 503, and once the load is gone every request succeeds again."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from sync.models import UserSyncStatus
from testing.helpers import (
    TcpProxy,
    http,
    live_gunicorn,
    postgres_only,
    proxied_database_url,
    timed,
    wait_until_a_query_waits_for_a_lock,
)

BOUND_SECONDS = 15
REPORT = {"device_id": "phone", "sync_version": 1, "data_hash": "hash"}
MAX_CONNECTIONS = 4
WORKERS = 2
THREADS = 4


@pytest.fixture
def limited_database_proxy():
    """The test database, refusing connections beyond MAX_CONNECTIONS (its max_connections)."""
    proxy = TcpProxy(int(connection.settings_dict["PORT"] or 5432), max_connections=MAX_CONNECTIONS)
    yield proxy
    proxy.close()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_every_request_succeeds_again_once_a_load_beyond_the_connection_limit_is_gone(
    limited_database_proxy, alice, tokens_for
):
    token = tokens_for(alice)["access"]
    # One connection per thread would be more than the database takes; sized by the rule,
    # the workers' pools fit it.
    assert WORKERS * THREADS > MAX_CONNECTIONS
    server = {
        "DATABASE_URL": proxied_database_url(limited_database_proxy),
        "WEB_CONCURRENCY": str(WORKERS),
        "GUNICORN_THREADS": str(THREADS),
        "DB_POOL_SIZE": str(MAX_CONNECTIONS // WORKERS),
    }

    with live_gunicorn(**server) as (_, base_url):

        def list_devices(_=None):
            return http("GET", f"{base_url}/api/sync/status", token=token)[0]

        with ThreadPoolExecutor(4 * MAX_CONNECTIONS) as clients:
            during = list(clients.map(list_devices, range(20 * MAX_CONNECTIONS)))
        with ThreadPoolExecutor(WORKERS * THREADS) as clients:
            after = list(clients.map(list_devices, range(40)))
        connections_open = limited_database_proxy.open_connections()

    assert set(during) <= {200, 503}
    assert after == [200] * 40
    assert connections_open <= MAX_CONNECTIONS


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_request_that_finds_every_pooled_connection_busy_gets_a_503_quickly(
    database_proxy, alice, tokens_for, hold_user_row
):
    token = tokens_for(alice)["access"]
    # One connection for two threads; a report waits for the lock for as long as it is held.
    server = {
        "DATABASE_URL": proxied_database_url(database_proxy),
        "GUNICORN_THREADS": "2",
        "DB_POOL_SIZE": "1",
        "DB_LOCK_TIMEOUT": "0",
        "DB_STATEMENT_TIMEOUT": "0",
    }

    with live_gunicorn(**server) as (_, base_url):
        lock = hold_user_row(alice)
        with ThreadPoolExecutor(1) as client:
            report = client.submit(http, "POST", f"{base_url}/api/sync/status", REPORT, token=token)
            # The report holds the worker's only connection while it waits for the lock.
            wait_until_a_query_waits_for_a_lock()
            status, body, took = timed(
                http, "GET", f"{base_url}/api/sync/status", token=token, timeout=BOUND_SECONDS
            )
            lock.rollback()
            reported = report.result()[0]

    assert (status, body) == (503, {"detail": "The database is unavailable; try again later."})
    assert took < BOUND_SECONDS
    assert reported == 201
    assert UserSyncStatus.objects.get().device_id == "phone"
