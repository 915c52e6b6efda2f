import psycopg
import pytest
from django.db import connection

from testing.helpers import TcpProxy

LOCK_HOLDER_IDLE_SECONDS = 15


@pytest.fixture
def database_proxy():
    """A TcpProxy in front of the test database (PostgreSQL)."""
    proxy = TcpProxy(target_port=int(connection.settings_dict["PORT"] or 5432))
    yield proxy
    proxy.close()


@pytest.fixture
def hold_user_row():
    """Locks a user's row from another session straight to PostgreSQL, as a long transaction
    would; returns that session, whose rollback() releases the lock. The server ends the
    session after LOCK_HOLDER_IDLE_SECONDS, so no test can wait on the lock forever."""
    db = connection.settings_dict
    sessions = []

    def hold(user):
        session = psycopg.connect(
            host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
        )
        sessions.append(session)
        session.execute(f"SET idle_in_transaction_session_timeout = '{LOCK_HOLDER_IDLE_SECONDS}s'")
        session.commit()
        session.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", [user.pk])
        return session

    yield hold
    for session in sessions:
        session.close()
