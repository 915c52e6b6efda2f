"""A backing service that fails or is busy is a JSON 503 with Retry-After, never a 500."""

import sqlite3

import psycopg
import pytest
from django.db import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from persona.views import api_exception_handler


def failure(exc, cause):
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "detail", "retry_after"),
    [
        (
            failure(OperationalError("database is locked"), sqlite3.OperationalError("database is locked")),
            "The database is busy (a lock or statement timed out); try again shortly.",
            "1",
        ),
        (
            failure(OperationalError("canceling statement"), psycopg.errors.QueryCanceled("timeout")),
            "The database is busy (a lock or statement timed out); try again shortly.",
            "1",
        ),
        (
            failure(OperationalError("connection refused"), psycopg.OperationalError("refused")),
            "The database is unavailable; try again later.",
            "5",
        ),
        (RedisConnectionError("refused"), "The cache is unavailable; try again later.", "5"),
    ],
    ids=["sqlite-locked", "statement-timeout", "database-down", "redis-down"],
)
def test_it_says_which_service_failed_and_when_to_retry(exc, detail, retry_after):
    response = api_exception_handler(exc, {})

    assert response.status_code == 503
    assert response.data == {"detail": detail}
    assert response["Retry-After"] == retry_after
