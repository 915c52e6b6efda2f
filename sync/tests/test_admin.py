import pytest

from accounts.models import User
from sync.models import UserSyncStatus
from testing.helpers import PASSWORD

ADMIN = "/admin/sync/usersyncstatus/"


@pytest.fixture
def staff_client(client, db):
    staff = User.objects.create_superuser(email="staff@example.com", password=PASSWORD)
    client.force_login(staff)
    return client


@pytest.fixture
def devices(alice, bob, add_device, alice_client):
    add_device(alice, device_id="alice-phone")
    add_device(alice, device_id="alice-tablet")
    add_device(bob, device_id="bob-laptop")
    alice_client.delete("/api/sync/status/alice-tablet")


def listed(response):
    return sorted(device.device_id for device in response.context["cl"].result_list)


def test_staff_can_search_devices_by_user_email(staff_client, devices):
    response = staff_client.get(ADMIN, {"q": "bob@"})

    assert response.status_code == 200
    assert listed(response) == ["bob-laptop"]


def test_staff_can_search_devices_by_device_id(staff_client, devices):
    response = staff_client.get(ADMIN, {"q": "phone"})

    assert response.status_code == 200
    assert listed(response) == ["alice-phone"]


def test_staff_can_filter_by_active(staff_client, devices):
    inactive = staff_client.get(ADMIN, {"is_active__exact": "0"})
    active = staff_client.get(ADMIN, {"is_active__exact": "1"})

    assert listed(inactive) == ["alice-tablet"]
    assert listed(active) == ["alice-phone", "bob-laptop"]


def test_staff_can_view_but_not_edit_a_device(staff_client, devices):
    device = UserSyncStatus.objects.get(device_id="alice-phone")
    url = f"{ADMIN}{device.pk}/change/"

    page = staff_client.get(url)
    edit = staff_client.post(url, {"sync_version": 99, "is_active": ""})

    assert page.status_code == 200
    assert b"alice-phone" in page.content
    assert edit.status_code == 403
    device.refresh_from_db()
    assert (device.sync_version, device.is_active) == (1, True)


def test_staff_cannot_add_or_delete_devices(staff_client, devices):
    device = UserSyncStatus.objects.get(device_id="alice-phone")

    assert staff_client.get(f"{ADMIN}add/").status_code == 403
    assert staff_client.post(f"{ADMIN}{device.pk}/delete/", {"post": "yes"}).status_code == 403
    assert UserSyncStatus.objects.count() == 3
