"""What the database itself enforces, whoever writes the rows."""

import pytest
from django.db import IntegrityError

from sync.models import UserSyncStatus


def test_a_user_has_one_row_per_device(alice, bob):
    UserSyncStatus.objects.create(user=alice, device_id="phone", sync_version=1, data_hash="a")
    UserSyncStatus.objects.create(user=bob, device_id="phone", sync_version=1, data_hash="b")

    with pytest.raises(IntegrityError):
        UserSyncStatus.objects.create(user=alice, device_id="phone", sync_version=2, data_hash="c")


def test_a_version_is_never_negative(alice):
    with pytest.raises(IntegrityError):
        UserSyncStatus.objects.create(user=alice, device_id="phone", sync_version=-1, data_hash="a")


def test_deleting_a_user_deletes_their_devices(alice, bob, add_device):
    add_device(alice, device_id="phone")
    add_device(bob, device_id="phone")

    alice.delete()

    assert list(UserSyncStatus.objects.values_list("user", flat=True)) == [bob.pk]
