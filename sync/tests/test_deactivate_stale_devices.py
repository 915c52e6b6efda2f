"""manage.py deactivate_stale_devices --days N [--dry-run]"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import TokenFamily
from sync.models import UserSyncStatus


@pytest.fixture
def device_synced(add_device):
    """A device of the user whose last accepted report was `days_ago` days ago."""

    def make(user, device_id, *, days_ago):
        device = add_device(user, device_id=device_id)
        device.synced_at = timezone.now() - timedelta(days=days_ago)
        UserSyncStatus.objects.filter(pk=device.pk).update(synced_at=device.synced_at)
        return device

    return make


def deactivate_stale(*args):
    out = StringIO()
    call_command("deactivate_stale_devices", *args, stdout=out)
    return out.getvalue()


def active_device_ids():
    return set(UserSyncStatus.objects.filter(is_active=True).values_list("user__email", "device_id"))


def test_it_deactivates_devices_not_synced_for_n_days(alice, bob, device_synced):
    old_phone = device_synced(alice, "old-phone", days_ago=40)
    device_synced(alice, "old-tablet", days_ago=31)
    device_synced(alice, "laptop", days_ago=29)
    bobs_phone = device_synced(bob, "phone", days_ago=90)

    output = deactivate_stale("--days", "30")

    assert active_device_ids() == {("alice@example.com", "laptop")}
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.device_count, bob.device_count) == (1, 0)
    assert f"alice@example.com  old-phone  last synced {old_phone.synced_at.isoformat()}" in output
    assert f"bob@example.com  phone  last synced {bobs_phone.synced_at.isoformat()}" in output
    assert "laptop" not in output
    assert output.endswith("Deactivated 3 device(s) not synced for 30 day(s).\n")


def test_already_inactive_devices_are_not_counted_again(alice, device_synced, alice_client):
    device_synced(alice, "phone", days_ago=40)
    device_synced(alice, "tablet", days_ago=1)
    alice_client.delete("/api/sync/status/phone")

    output = deactivate_stale("--days", "30")

    assert output == "Deactivated 0 device(s) not synced for 30 day(s).\n"
    alice.refresh_from_db()
    assert alice.device_count == 1


def test_a_dry_run_changes_nothing(alice, device_synced):
    old = device_synced(alice, "old-phone", days_ago=40)
    device_synced(alice, "laptop", days_ago=1)

    output = deactivate_stale("--days", "30", "--dry-run")

    assert output == (
        f"alice@example.com  old-phone  last synced {old.synced_at.isoformat()}\n"
        "Would deactivate 1 device(s) not synced for 30 day(s).\n"
    )
    assert active_device_ids() == {("alice@example.com", "old-phone"), ("alice@example.com", "laptop")}
    alice.refresh_from_db()
    assert alice.device_count == 2


def test_stale_devices_stay_signed_in_and_come_back_by_reporting(alice, device_synced, client_for, report):
    device_synced(alice, "phone", days_ago=40)
    phone = client_for(alice, device_id="phone")
    deactivate_stale("--days", "30")

    response = report(phone, device_id="phone", sync_version=2)

    assert response.status_code == 200
    assert TokenFamily.objects.get(device_id="phone").revoked_at is None
    assert active_device_ids() == {("alice@example.com", "phone")}
    alice.refresh_from_db()
    assert alice.device_count == 1


@pytest.mark.parametrize("args", [[], ["--days", "0"], ["--days", "-3"], ["--days", "soon"]])
def test_it_needs_a_positive_number_of_days(alice, device_synced, args):
    device_synced(alice, "phone", days_ago=400)

    with pytest.raises(CommandError):
        deactivate_stale(*args)

    assert active_device_ids() == {("alice@example.com", "phone")}
