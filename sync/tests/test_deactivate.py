"""DELETE /api/sync/status/<device_id>: deactivates the device and signs it out."""

import pytest

from accounts.models import TokenFamily
from sync.models import UserSyncStatus
from sync.tests.helpers import URL, row

PROFILE = "/api/auth/profile"


def test_it_deactivates_the_device(alice_client, alice, add_device):
    device = add_device(alice, device_id="phone", sync_version=4, data_hash="four")
    add_device(alice, device_id="tablet")

    response = alice_client.delete(f"{URL}/phone")

    assert response.status_code == 204
    device.refresh_from_db()
    assert (device.is_active, device.sync_version, device.data_hash) == (False, 4, "four")
    assert UserSyncStatus.objects.get(device_id="tablet").is_active is True
    alice.refresh_from_db()
    assert alice.device_count == 1


def test_it_signs_the_device_out(api_client, client_for, alice, add_device, tokens_for):
    add_device(alice, device_id="phone")
    phone = tokens_for(alice, device_id="phone")
    tablet = tokens_for(alice, device_id="tablet")

    response = client_for(alice, device_id="tablet").delete(f"{URL}/phone")

    assert response.status_code == 204
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {phone['access']}")
    assert api_client.get(PROFILE).status_code == 401
    refreshed = api_client.post("/api/auth/refresh", {"refresh": phone["refresh"]}, format="json")
    assert refreshed.status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tablet['access']}")
    assert api_client.get(PROFILE).status_code == 200
    assert set(TokenFamily.objects.filter(revoked_at__isnull=True).values_list("device_id", flat=True)) == {
        "tablet"
    }


def test_a_device_can_sign_itself_out(client_for, alice, add_device):
    add_device(alice, device_id="phone")
    phone_client = client_for(alice, device_id="phone")

    assert phone_client.delete(f"{URL}/phone").status_code == 204
    assert phone_client.get(URL).status_code == 401


def test_deactivating_twice_counts_once_and_signs_out_again(alice_client, alice, add_device, tokens_for):
    add_device(alice, device_id="phone")
    add_device(alice, device_id="tablet")
    alice_client.delete(f"{URL}/phone")
    signed_in_again = tokens_for(alice, device_id="phone")

    response = alice_client.delete(f"{URL}/phone")

    assert response.status_code == 204
    alice.refresh_from_db()
    assert alice.device_count == 1
    assert TokenFamily.objects.get(device_id="phone").revoked_at is not None
    alice_client.credentials(HTTP_AUTHORIZATION=f"Bearer {signed_in_again['access']}")
    assert alice_client.get(PROFILE).status_code == 401


def test_another_users_device_is_not_found_and_stays(alice_client, bob, add_device, tokens_for):
    device = add_device(bob, device_id="phone")
    before = row(device)
    bobs_phone = tokens_for(bob, device_id="phone")

    response = alice_client.delete(f"{URL}/phone")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert row(device) == before
    bob.refresh_from_db()
    assert bob.device_count == 1
    alice_client.credentials(HTTP_AUTHORIZATION=f"Bearer {bobs_phone['access']}")
    assert alice_client.get(PROFILE).status_code == 200


def test_a_device_that_signed_in_but_never_reported_is_signed_out(
    api_client, alice_client, alice, tokens_for
):
    phone = tokens_for(alice, device_id="phone")

    response = alice_client.delete(f"{URL}/phone")

    assert response.status_code == 204
    assert TokenFamily.objects.get(device_id="phone").revoked_at is not None
    assert not UserSyncStatus.objects.exists()
    alice.refresh_from_db()
    assert alice.device_count == 0
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {phone['access']}")
    assert api_client.get(PROFILE).status_code == 401


def test_an_unknown_device_is_not_found_and_nobody_is_signed_out(alice_client, alice, bob, tokens_for):
    tokens_for(alice, device_id="tablet")
    tokens_for(bob, device_id="phone")

    response = alice_client.delete(f"{URL}/phone")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert not TokenFamily.objects.filter(revoked_at__isnull=False).exists()


@pytest.mark.parametrize("method", ["get", "delete"])
@pytest.mark.parametrize("device_id", ["%00", "phone%00", "%0A", "%7F"])
def test_a_device_id_with_control_characters_is_not_found(alice_client, alice, add_device, method, device_id):
    add_device(alice, device_id="phone")

    response = getattr(alice_client, method)(f"{URL}/{device_id}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert UserSyncStatus.objects.get().is_active


def test_a_dotted_device_id_can_be_deactivated(alice_client, alice, add_device):
    device = add_device(alice, device_id="com.example.phone-2")

    response = alice_client.delete(f"{URL}/com.example.phone-2")

    assert response.status_code == 204
    device.refresh_from_db()
    assert device.is_active is False


def test_deactivating_needs_a_token(api_client, alice, add_device):
    device = add_device(alice)

    response = api_client.delete(f"{URL}/phone")

    assert response.status_code == 401
    device.refresh_from_db()
    assert device.is_active is True


@pytest.mark.parametrize(("path", "answer"), [(URL, 405), (f"{URL}/", 404)])
def test_the_list_cannot_be_deleted(alice_client, alice, add_device, path, answer):
    add_device(alice)

    response = alice_client.delete(path)

    assert response.status_code == answer
    assert UserSyncStatus.objects.get().is_active is True
