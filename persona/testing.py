"""Helpers for tests in every app."""

import pytest
from django.db import connection

PASSWORD = "correct horse battery staple"

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (row locks, real concurrency); set DATABASE_URL to run it",
)
