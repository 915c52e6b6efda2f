"""An account has at most MAX_ACTIVE_DEVICES active devices; the report that would add one
more is a 403 and stores nothing, however many race."""

import pytest

from accounts.models import MAX_ACTIVE_DEVICES, User
from sync.models import UserSyncStatus
from sync.services import sync_status_report
from testing.helpers import run_concurrently

TOO_MANY = {
    "detail": f"This account already has {MAX_ACTIVE_DEVICES} active devices; "
    "deactivate one before adding another.",
    "code": "too_many_devices",
}


def fill(user, count, *, inactive=()):
    UserSyncStatus.objects.bulk_create(
        UserSyncStatus(
            user=user, device_id=f"d{n}", sync_version=1, data_hash="h", is_active=n not in inactive
        )
        for n in range(count)
    )
    User.objects.filter(pk=user.pk).update(device_count=count - len(inactive))


@pytest.mark.django_db(transaction=True)
def test_a_new_device_beyond_the_limit_is_refused_and_nothing_is_stored(alice_client, alice, report):
    fill(alice, MAX_ACTIVE_DEVICES)

    response = report(alice_client, device_id="one-too-many")

    assert response.status_code == 403
    assert response.json() == TOO_MANY
    assert not UserSyncStatus.objects.filter(device_id="one-too-many").exists()
    alice.refresh_from_db()
    assert alice.device_count == MAX_ACTIVE_DEVICES


@pytest.mark.django_db(transaction=True)
def test_a_deactivated_device_cannot_come_back_beyond_the_limit(alice_client, alice, report):
    fill(alice, MAX_ACTIVE_DEVICES + 1, inactive={0})

    response = report(alice_client, device_id="d0", sync_version=2)

    assert response.status_code == 403
    assert not UserSyncStatus.objects.get(device_id="d0").is_active


@pytest.mark.django_db(transaction=True)
def test_devices_already_active_keep_reporting_at_the_limit(alice_client, alice, report):
    fill(alice, MAX_ACTIVE_DEVICES)

    response = report(alice_client, device_id="d7", sync_version=2)

    assert response.status_code == 200
    assert UserSyncStatus.objects.get(device_id="d7").sync_version == 2


@pytest.mark.django_db(transaction=True)
def test_deactivating_a_device_makes_room_for_another(alice_client, alice, report):
    fill(alice, MAX_ACTIVE_DEVICES)

    assert alice_client.delete("/api/sync/status/d3").status_code == 204
    assert report(alice_client, device_id="new-phone").status_code == 201
    alice.refresh_from_db()
    assert alice.device_count == MAX_ACTIVE_DEVICES


@pytest.mark.django_db(transaction=True)
def test_racing_new_devices_at_the_last_free_place_store_exactly_one(alice):
    fill(alice, MAX_ACTIVE_DEVICES - 1)

    def add(device_id):
        return lambda: sync_status_report(user=alice, device_id=device_id, sync_version=1, data_hash="h")

    results = run_concurrently(*(add(f"racer-{n}") for n in range(6)))

    stored = [result for result in results if isinstance(result, tuple)]
    assert len(stored) == 1
    assert all(getattr(result, "status_code", None) == 403 for result in results if result not in stored)
    alice.refresh_from_db()
    assert alice.device_count == MAX_ACTIVE_DEVICES
    assert UserSyncStatus.objects.filter(user=alice, is_active=True).count() == MAX_ACTIVE_DEVICES
