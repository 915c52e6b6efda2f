"""A database that does not answer in time: a JSON 503 within a bound, never a hang, and
service resumes by itself.

A busy database (a lock held too long, a statement too slow) is cancelled by the server and
answered as "busy"; a database that hangs (a stopped process: the kernel still accepts and
acknowledges, nothing answers) is given up on by the client and answered as "unavailable".
The bounds here are generous; the documented ones are a few seconds (README).
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import OperationalError, connection

from persona import database
from persona.views import api_exception_handler
from sync.models import UserSyncStatus
from testing.helpers import (
    http,
    live_gunicorn,
    postgres_only,
    proxied_database_url,
    timed,
    wait_until_a_query_waits_for_a_lock,
)

BOUND_SECONDS = 15
REPORT = {"device_id": "phone", "sync_version": 1, "data_hash": "hash"}
UNAVAILABLE = {"detail": "The database is unavailable; try again later."}
BUSY = {"detail": "The database is busy (a lock or statement timed out); try again shortly."}


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_request_waiting_too_long_for_a_lock_is_a_busy_503(alice_client, alice, hold_user_row):
    hold_user_row(alice)
    started = time.monotonic()

    response = alice_client.post("/api/sync/status", REPORT, format="json")

    assert time.monotonic() - started < BOUND_SECONDS
    assert response.status_code == 503
    assert response.json() == BUSY
    assert response["Retry-After"] == "1"
    assert not UserSyncStatus.objects.exists()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_statement_running_too_long_is_cancelled_and_answered_as_busy():
    started = time.monotonic()

    with pytest.raises(OperationalError) as failure, connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [BOUND_SECONDS])

    assert time.monotonic() - started < BOUND_SECONDS
    response = api_exception_handler(failure.value, {})
    assert (response.status_code, response.data) == (503, BUSY)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_database_that_hangs_is_a_503_for_new_requests_and_readiness(database_proxy, alice, tokens_for):
    token = tokens_for(alice)["access"]

    with live_gunicorn(DATABASE_URL=proxied_database_url(database_proxy), GUNICORN_THREADS="4") as (
        _,
        base_url,
    ):
        assert http("GET", f"{base_url}/api/sync/status", token=token)[0] == 200
        database_proxy.freeze()
        with ThreadPoolExecutor(2) as clients:
            ready = clients.submit(timed, http, "GET", f"{base_url}/health/ready", timeout=BOUND_SECONDS)
            listed = clients.submit(
                timed, http, "GET", f"{base_url}/api/sync/status", token=token, timeout=BOUND_SECONDS
            )
            (ready_status, ready_body, ready_took), (status, body, took) = ready.result(), listed.result()

        assert (ready_status, ready_body["checks"]["database"]) == (503, "error")
        assert ready_took < BOUND_SECONDS
        assert (status, body) == (503, UNAVAILABLE)
        assert took < BOUND_SECONDS

        database_proxy.thaw()
        assert http("GET", f"{base_url}/health/ready")[0] == 200
        assert http("GET", f"{base_url}/api/sync/status", token=token)[0] == 200


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_query_in_flight_when_the_database_hangs_is_a_503(database_proxy, alice, tokens_for, hold_user_row):
    token = tokens_for(alice)["access"]
    url = proxied_database_url(database_proxy)

    # No lock timeout: the report waits for the lock until the database hangs.
    with live_gunicorn(DATABASE_URL=url, GUNICORN_THREADS="2", DB_LOCK_TIMEOUT="0") as (_, base_url):
        lock = hold_user_row(alice)
        with ThreadPoolExecutor(1) as client:
            report = client.submit(
                timed, http, "POST", f"{base_url}/api/sync/status", REPORT, token=token, timeout=BOUND_SECONDS
            )
            wait_until_a_query_waits_for_a_lock()
            database_proxy.freeze()
            status, body, took = report.result()

        assert (status, body) == (503, UNAVAILABLE)
        assert took < BOUND_SECONDS

        database_proxy.thaw()
        lock.rollback()
        assert http("POST", f"{base_url}/api/sync/status", REPORT, token=token)[0] == 201
        assert UserSyncStatus.objects.get().device_id == "phone"


@postgres_only
@pytest.mark.django_db
def test_a_commit_the_database_never_answers_is_given_up_on(database_proxy, settings):
    settings.DATABASE_QUERY_DEADLINE = 1
    db = connection.settings_dict
    conn = database.Connection.connect(
        host="127.0.0.1", port=database_proxy.port, user=db["USER"], dbname=db["NAME"]
    )
    # Should the commit wait for the database, it ends when the database answers again.
    thaw_later = threading.Timer(BOUND_SECONDS, database_proxy.thaw)
    try:
        conn.execute("SELECT 1")  # a transaction begins
        database_proxy.freeze()
        thaw_later.start()
        started = time.monotonic()

        with pytest.raises(psycopg.OperationalError):
            conn.commit()

        assert time.monotonic() - started < BOUND_SECONDS
    finally:
        thaw_later.cancel()
        conn.close()
