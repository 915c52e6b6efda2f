"""POST /api/sync/status: a device reports its data version."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from sync.models import MAX_SYNC_VERSION, UserSyncStatus
from sync.sql import REPORT_SQL
from sync.tests.helpers import URL, iso, row
from testing.helpers import postgres_only


def test_the_first_report_creates_the_device(alice_client, alice, report):
    response = report(alice_client, device_id="phone", sync_version=3, data_hash="abc")

    assert response.status_code == 201
    device = UserSyncStatus.objects.get()
    assert response.json() == {
        "device_id": "phone",
        "sync_version": 3,
        "data_hash": "abc",
        "last_sync_timestamp": None,
        "synced_at": iso(device.synced_at),
        "is_active": True,
    }
    assert (device.user, device.device_id, device.sync_version) == (alice, "phone", 3)
    assert (device.data_hash, device.is_active, device.last_sync_timestamp) == ("abc", True, None)
    alice.refresh_from_db()
    assert (alice.device_count, alice.last_sync) == (1, device.synced_at)


def test_a_newer_version_is_stored(alice_client, alice, report, add_device):
    device = add_device(alice, sync_version=1, data_hash="old")
    first_synced_at = device.synced_at

    response = report(alice_client, sync_version=2, data_hash="new")

    assert response.status_code == 200
    assert response.json() == row(device)
    assert (device.sync_version, device.data_hash) == (2, "new")
    assert device.synced_at > first_synced_at
    assert UserSyncStatus.objects.count() == 1
    alice.refresh_from_db()
    assert (alice.device_count, alice.last_sync) == (1, device.synced_at)


def test_a_retry_of_the_stored_report_changes_nothing(alice_client, alice, report, add_device):
    device = add_device(alice, sync_version=4, data_hash="same")
    before = row(device)
    alice.refresh_from_db()
    last_sync = alice.last_sync

    response = report(alice_client, sync_version=4, data_hash="same", last_sync_timestamp=iso(timezone.now()))

    assert response.status_code == 200
    assert response.json() == before
    assert row(device) == before
    alice.refresh_from_db()
    assert (alice.device_count, alice.last_sync) == (1, last_sync)


def test_an_older_version_is_refused_with_the_stored_row(alice_client, alice, report, add_device):
    device = add_device(alice, sync_version=5, data_hash="five")
    before = row(device)
    alice.refresh_from_db()
    last_sync = alice.last_sync

    response = report(alice_client, sync_version=4, data_hash="four")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "A newer version of this device's data is already stored.",
        "code": "stale_version",
        "device": before,
    }
    assert row(device) == before
    alice.refresh_from_db()
    assert alice.last_sync == last_sync


def test_the_same_version_with_other_data_is_a_conflict(alice_client, alice, report, add_device):
    device = add_device(alice, sync_version=5, data_hash="five")
    before = row(device)

    response = report(alice_client, sync_version=5, data_hash="something else")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This version is already stored with different data.",
        "code": "sync_conflict",
        "device": before,
    }
    assert row(device) == before


def test_a_report_from_a_deactivated_device_reactivates_it(alice_client, alice, report, add_device):
    device = add_device(alice, sync_version=1)
    alice_client.delete(f"{URL}/phone")

    response = report(alice_client, sync_version=2, data_hash="back")

    assert response.status_code == 200
    assert response.json()["is_active"] is True
    device.refresh_from_db()
    assert (device.is_active, device.sync_version) == (True, 2)
    alice.refresh_from_db()
    assert (alice.device_count, alice.last_sync) == (1, device.synced_at)


def test_repeating_the_stored_report_reactivates_the_device(alice_client, alice, report, add_device):
    device = add_device(alice, sync_version=7, data_hash="seven")
    alice_client.delete(f"{URL}/phone")

    response = report(alice_client, sync_version=7, data_hash="seven")

    assert response.status_code == 200
    device.refresh_from_db()
    assert (device.is_active, device.sync_version, device.data_hash) == (True, 7, "seven")
    alice.refresh_from_db()
    assert alice.device_count == 1


def test_a_refused_report_leaves_a_deactivated_device_inactive(alice_client, alice, report, add_device):
    device = add_device(alice, sync_version=7)
    alice_client.delete(f"{URL}/phone")

    response = report(alice_client, sync_version=6)

    assert response.status_code == 409
    assert response.json()["device"]["is_active"] is False
    device.refresh_from_db()
    assert device.is_active is False
    alice.refresh_from_db()
    assert alice.device_count == 0


def test_each_device_counts_once(alice_client, alice, report):
    assert report(alice_client, device_id="phone", sync_version=1).status_code == 201
    assert report(alice_client, device_id="tablet", sync_version=1).status_code == 201
    assert report(alice_client, device_id="phone", sync_version=2).status_code == 200

    alice.refresh_from_db()
    assert alice.device_count == 2
    assert UserSyncStatus.objects.filter(user=alice).count() == 2


def test_another_users_device_of_the_same_name_is_not_touched(alice_client, alice, bob, report, add_device):
    bobs = add_device(bob, device_id="phone", sync_version=9, data_hash="bob")
    before = row(bobs)

    response = report(alice_client, device_id="phone", sync_version=1, data_hash="alice")

    assert response.status_code == 201
    assert row(bobs) == before
    assert UserSyncStatus.objects.get(user=alice).sync_version == 1
    bob.refresh_from_db()
    assert bob.device_count == 1


def test_it_ignores_fields_the_server_owns(alice_client, alice, bob, report):
    response = report(
        alice_client,
        user=str(bob.id),
        id="00000000-0000-0000-0000-000000000001",
        is_active=False,
        device_count=99,
        synced_at="2000-01-01T00:00:00Z",
    )

    assert response.status_code == 201
    device = UserSyncStatus.objects.get()
    assert device.user == alice
    assert str(device.id) != "00000000-0000-0000-0000-000000000001"
    assert device.is_active is True
    assert device.synced_at.year > 2000
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.device_count, bob.device_count) == (1, 0)


def test_it_keeps_the_devices_timestamp_in_utc(alice_client, report):
    response = report(alice_client, last_sync_timestamp="2026-01-02T10:30:00+02:00")

    assert response.status_code == 201
    assert response.json()["last_sync_timestamp"] == "2026-01-02T08:30:00Z"
    assert UserSyncStatus.objects.get().last_sync_timestamp == datetime(2026, 1, 2, 8, 30, tzinfo=UTC)


def test_it_accepts_a_device_clock_a_little_ahead(alice_client, report):
    ahead = timezone.now() + timedelta(hours=20)

    response = report(alice_client, last_sync_timestamp=ahead.isoformat())

    assert response.status_code == 201
    assert UserSyncStatus.objects.get().last_sync_timestamp == ahead


def test_a_newer_report_replaces_the_devices_timestamp(alice_client, report):
    report(alice_client, sync_version=1, last_sync_timestamp="2026-01-02T08:30:00Z")

    response = report(alice_client, sync_version=2)

    assert response.status_code == 200
    assert UserSyncStatus.objects.get().last_sync_timestamp is None


def test_it_stores_the_largest_64_bit_version(alice_client, report):
    response = report(alice_client, sync_version=MAX_SYNC_VERSION)

    assert response.status_code == 201
    assert response.json()["sync_version"] == 2**63 - 1
    assert UserSyncStatus.objects.get().sync_version == 2**63 - 1


def test_it_needs_a_token(api_client, alice, report):
    response = report(api_client)

    assert response.status_code == 401
    assert not UserSyncStatus.objects.exists()


def test_a_signed_out_token_gets_401(api_client, alice, report, tokens_for):
    tokens = tokens_for(alice)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    api_client.post("/api/auth/logout-all")

    response = report(api_client)

    assert response.status_code == 401
    assert not UserSyncStatus.objects.exists()


@pytest.mark.parametrize(
    ("stored", "sent", "answer"),
    [
        (None, 1, 201),  # new device: lock attempt, insert, user counters
        (1, 2, 200),  # newer version: lock, update, user counters
        (2, 2, 200),  # retry: lock only
        (3, 2, 409),  # stale: lock only
    ],
)
def test_a_report_stays_within_four_queries(
    alice_client, alice, report, add_device, statements_of, stored, sent, answer
):
    if stored is not None:
        add_device(alice, sync_version=stored)

    response, statements = statements_of(lambda: report(alice_client, sync_version=sent))

    assert response.status_code == answer
    assert len(statements) <= 4, statements


def test_reactivating_stays_within_four_queries(alice_client, alice, report, add_device, statements_of):
    add_device(alice, sync_version=1)
    alice_client.delete(f"{URL}/phone")

    response, statements = statements_of(lambda: report(alice_client, sync_version=2))

    assert response.status_code == 200
    assert len(statements) <= 4, statements


@postgres_only
@pytest.mark.parametrize(
    ("stored", "sent", "answer"),
    [(None, 1, 201), (1, 2, 200), (2, 2, 200), (3, 2, 409), ("inactive", 2, 200)],
)
def test_on_postgresql_a_report_is_one_statement_after_the_token_check(
    alice_client, alice, report, add_device, statements_of, stored, sent, answer
):
    if stored == "inactive":
        add_device(alice, sync_version=1)
        alice_client.delete(f"{URL}/phone")
    elif stored is not None:
        add_device(alice, sync_version=stored)

    response, statements = statements_of(lambda: report(alice_client, sync_version=sent))

    assert response.status_code == answer
    assert len(statements) == 2, statements
    assert statements[1].startswith("\nWITH prior AS")


@postgres_only
def test_the_report_statement_returns_the_devices_columns_in_model_order(alice):
    params = {"user_id": alice.pk, "new_id": uuid.uuid4(), "device_id": "phone", "sync_version": 1}
    params |= {"data_hash": "h", "last_sync_timestamp": None, "now": timezone.now()}

    with connection.cursor() as cursor:
        cursor.execute(REPORT_SQL, params)
        columns = [column.name for column in cursor.description]

    assert columns[1:] == [field.column for field in UserSyncStatus._meta.concrete_fields]


def test_the_devices_timestamp_may_be_null(alice_client, report):
    response = report(alice_client, last_sync_timestamp=None)

    assert response.status_code == 201
    assert UserSyncStatus.objects.get().last_sync_timestamp is None


def test_the_users_last_sync_never_moves_back_when_an_earlier_clock_commits_last(
    alice_client, alice, report, monkeypatch
):
    assert report(alice_client, device_id="tablet", sync_version=1, data_hash="a").status_code == 201
    alice.refresh_from_db()
    later = alice.last_sync
    # Another device's report read the clock before the tablet's and commits after it.
    monkeypatch.setattr("sync.services.timezone.now", lambda: later - timedelta(milliseconds=5))

    response = report(alice_client, device_id="phone", sync_version=1, data_hash="b")

    assert response.status_code == 201
    alice.refresh_from_db()
    assert alice.last_sync == later
    assert alice.device_count == 2


def test_a_devices_synced_at_never_moves_back_when_a_report_reads_an_earlier_clock(
    alice_client, alice, report, monkeypatch
):
    assert report(alice_client, sync_version=1).status_code == 201
    first = UserSyncStatus.objects.get().synced_at
    # This report's app instance has a clock a little behind the first one's.
    monkeypatch.setattr("sync.services.timezone.now", lambda: first - timedelta(milliseconds=5))

    assert report(alice_client, sync_version=2).status_code == 200

    device = UserSyncStatus.objects.get()
    assert (device.sync_version, device.synced_at) == (2, first)
