"""A database outage: readiness says so, writes fail cleanly, and service resumes by itself."""

import time

import pytest
from django.db import connection

from accounts.models import User
from persona.postgresql.base import RECENTLY_HEALTHY_SECONDS
from persona.testing import http, live_gunicorn, postgres_only

BODY = {"email": "carol@example.com", "password": "a sturdy passphrase 42"}


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_readiness_and_writes_follow_the_database_down_and_back_up(database_proxy):
    db = connection.settings_dict
    url = f"postgresql://{db['USER']}@127.0.0.1:{database_proxy.port}/{db['NAME']}"

    with live_gunicorn(DATABASE_URL=url, GUNICORN_THREADS="1") as (_, base_url):
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
def test_a_connection_that_went_stale_while_idle_is_replaced_unnoticed(database_proxy, alice, tokens_for):
    db = connection.settings_dict
    url = f"postgresql://{db['USER']}@127.0.0.1:{database_proxy.port}/{db['NAME']}"
    token = tokens_for(alice)["access"]

    with live_gunicorn(DATABASE_URL=url, WEB_CONCURRENCY="1", GUNICORN_THREADS="1") as (_, base_url):
        assert http("GET", f"{base_url}/api/sync/status", token=token)[0] == 200
        # The database goes away and comes back while the worker's connection sits idle.
        database_proxy.cut()
        database_proxy.restore()
        time.sleep(RECENTLY_HEALTHY_SECONDS + 0.2)

        assert http("GET", f"{base_url}/api/sync/status", token=token)[0] == 200


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_connection_is_not_checked_right_after_a_request_it_served_without_errors(monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.close_if_unusable_or_obsolete()  # that request ends
    connection.close_if_unusable_or_obsolete()  # the next one starts

    assert connection.health_check_done

    later = time.monotonic() + RECENTLY_HEALTHY_SECONDS
    monkeypatch.setattr("persona.postgresql.base.time.monotonic", lambda: later)
    connection.close_if_unusable_or_obsolete()  # a request after a pause

    assert not connection.health_check_done
