"""Racing reports and deactivations on PostgreSQL: the database keeps the counts right.

Each thread is one request on its own database connection; a barrier releases them
together so that their transactions really overlap.
"""

import pytest
from rest_framework.test import APIClient

from sync.models import UserSyncStatus
from sync.tests.helpers import URL
from testing.helpers import run_concurrently


def run_together(requests):
    """Runs the requests at once; returns their status codes (or errors) in order."""
    return [getattr(answer, "status_code", repr(answer)) for answer in run_concurrently(*requests)]


@pytest.fixture
def signed_in(tokens_for):
    """A new API client per call (clients are not shared between threads)."""
    access = {}

    def make(user):
        if user.pk not in access:
            access[user.pk] = tokens_for(user)["access"]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access[user.pk]}")
        return client

    return make


def post(client, **body):
    return lambda: client.post(URL, {"data_hash": "hash", **body}, format="json")


def delete(client, device_id):
    return lambda: client.delete(f"{URL}/{device_id}")


@pytest.mark.django_db(transaction=True)
def test_sixteen_new_devices_at_once_count_sixteen(alice, signed_in):
    requests = [post(signed_in(alice), device_id=f"device-{n}", sync_version=1) for n in range(16)]

    answers = run_together(requests)

    assert answers == [201] * 16
    assert UserSyncStatus.objects.filter(user=alice, is_active=True).count() == 16
    alice.refresh_from_db()
    assert alice.device_count == 16


@pytest.mark.django_db(transaction=True)
def test_racing_versions_of_one_device_keep_the_newest(alice, signed_in):
    requests = [
        post(signed_in(alice), device_id="phone", sync_version=version, data_hash=f"hash-{version}")
        for version in range(1, 25)
    ]

    answers = run_together(requests)

    assert set(answers) <= {200, 201, 409}, answers
    assert answers.count(201) == 1
    device = UserSyncStatus.objects.get(user=alice)
    assert (device.sync_version, device.data_hash, device.is_active) == (24, "hash-24", True)
    alice.refresh_from_db()
    assert (alice.device_count, alice.last_sync) == (1, device.synced_at)


@pytest.mark.django_db(transaction=True)
def test_racing_deactivations_and_reports_keep_the_count_exact(alice, bob, signed_in, add_device):
    for n in range(6):
        add_device(alice, device_id=f"device-{n}", sync_version=1)
    add_device(bob, device_id="device-0", sync_version=1)
    requests = []
    for n in range(6):
        requests += [
            delete(signed_in(alice), f"device-{n}"),
            delete(signed_in(alice), f"device-{n}"),
            post(signed_in(alice), device_id=f"device-{n}", sync_version=2),
        ]

    answers = run_together(requests)

    assert set(answers) <= {200, 204}, answers
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert alice.device_count == UserSyncStatus.objects.filter(user=alice, is_active=True).count()
    assert bob.device_count == 1
