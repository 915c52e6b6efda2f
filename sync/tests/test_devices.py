"""GET /api/sync/status and GET /api/sync/status/<device_id>: the caller's devices."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from sync.models import UserSyncStatus
from sync.tests.helpers import URL, row


def synced(device, *, minutes_ago):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    UserSyncStatus.objects.filter(pk=device.pk).update(synced_at=at)
    return device


def test_it_lists_the_users_devices_newest_first(alice_client, alice, bob, add_device):
    old = synced(add_device(alice, device_id="old-phone"), minutes_ago=30)
    new = synced(add_device(alice, device_id="tablet"), minutes_ago=1)
    middle = synced(add_device(alice, device_id="laptop"), minutes_ago=10)
    add_device(bob, device_id="bobs-phone")

    response = alice_client.get(URL)

    assert response.status_code == 200
    assert response.json() == [row(new), row(middle), row(old)]


def test_the_list_shows_deactivated_devices(alice_client, alice, add_device):
    device = add_device(alice)
    alice_client.delete(f"{URL}/phone")

    response = alice_client.get(URL)

    assert response.status_code == 200
    assert response.json() == [row(device)]
    assert response.json()[0]["is_active"] is False


def test_the_list_is_empty_without_devices(alice_client, bob, add_device):
    add_device(bob)

    response = alice_client.get(URL)

    assert response.status_code == 200
    assert response.json() == []


def test_it_shows_one_device(alice_client, alice, add_device):
    add_device(alice, device_id="tablet")
    device = add_device(alice, device_id="phone", sync_version=12, data_hash="twelve")

    response = alice_client.get(f"{URL}/phone")

    assert response.status_code == 200
    assert response.json() == row(device)


@pytest.mark.parametrize(
    "device_id", ["com.example.phone", "pixel-8.pro_2", "Alice's iPhone", "téléphone", "a" * 255]
)
def test_any_device_id_without_a_slash_is_addressable(alice_client, alice, add_device, device_id):
    device = add_device(alice, device_id=device_id)

    response = alice_client.get(f"{URL}/{quote(device_id)}")

    assert response.status_code == 200
    assert response.json() == row(device)


def test_another_users_device_is_not_found(alice_client, bob, add_device):
    device = add_device(bob, device_id="phone")
    before = row(device)

    response = alice_client.get(f"{URL}/phone")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert row(device) == before


def test_an_unknown_device_is_not_found(alice_client, alice):
    response = alice_client.get(f"{URL}/nothing-here")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("path", [URL, f"{URL}/phone"])
def test_reading_needs_a_token(api_client, alice, add_device, path):
    add_device(alice)

    response = api_client.get(path)

    assert response.status_code == 401


@pytest.mark.parametrize("path", [URL, f"{URL}/phone"])
def test_reading_stays_within_two_queries(alice_client, alice, add_device, statements_of, path):
    add_device(alice, device_id="tablet")
    add_device(alice, device_id="phone")

    response, statements = statements_of(lambda: alice_client.get(path))

    assert response.status_code == 200
    assert len(statements) <= 2, statements


@pytest.mark.parametrize("method", ["put", "patch"])
def test_devices_cannot_be_edited(alice_client, alice, add_device, method):
    device = add_device(alice, sync_version=1)
    before = row(device)

    response = getattr(alice_client, method)(f"{URL}/phone", {"sync_version": 9}, format="json")

    assert response.status_code == 405
    assert row(device) == before
