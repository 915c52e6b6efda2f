import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sync.models import UserSyncStatus
from sync.services import sync_status_report
from sync.tests.helpers import URL

# Query budgets count the statements that read or write data. Django also logs transaction
# control (BEGIN/COMMIT/ROLLBACK around a service's atomic block, or SAVEPOINTs when a test
# runs inside its own transaction), and which of those appear depends on the database and
# the test, so they are left out.
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


@pytest.fixture
def report():
    """POSTs a device report; the arguments default to a valid one."""

    def post(client, device_id="phone", sync_version=1, data_hash="hash-1", **fields):
        body = {"device_id": device_id, "sync_version": sync_version, "data_hash": data_hash, **fields}
        return client.post(URL, body, format="json")

    return post


@pytest.fixture
def add_device():
    """A stored device row, written through the service so the user's counters are right."""

    def add(user, device_id="phone", sync_version=1, data_hash="hash-1") -> UserSyncStatus:
        device, _ = sync_status_report(
            user=user, device_id=device_id, sync_version=sync_version, data_hash=data_hash
        )
        return device

    return add


@pytest.fixture
def statements_of():
    """Runs a request and returns its response and the data statements it sent."""

    def run(request):
        with CaptureQueriesContext(connection) as captured:
            response = request()
        sql = [query["sql"] for query in captured.captured_queries]
        return response, [statement for statement in sql if not statement.startswith(TRANSACTION_CONTROL)]

    return run
