"""A late upload of older data must never become the latest backup.

Found by the fleet simulation (bench/fleet.py): an upload a device gave up on arrived
after newer data was stored and became what a recovering device would restore.
"""

from backups.models import UserBackup
from backups.tests.helpers import URL, upload_body


def test_an_older_version_than_one_stored_is_refused(alice_client):
    alice_client.post(URL, upload_body("version five", sync_version=5), format="json")

    response = alice_client.post(URL, upload_body("version three", sync_version=3), format="json")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "A backup of sync_version 5 is already stored; download it first.",
        "code": "stale_version",
    }
    assert list(UserBackup.objects.values_list("sync_version", flat=True)) == [5]
    assert alice_client.get(f"{URL}/latest").json()["encrypted_data"] == "version five"


def test_the_same_version_from_another_device_is_stored(alice_client):
    alice_client.post(URL, upload_body("phone's edit", device_id="phone", sync_version=5), format="json")

    response = alice_client.post(
        URL, upload_body("tablet's edit", device_id="tablet", sync_version=5), format="json"
    )

    assert response.status_code == 201
    assert alice_client.get(f"{URL}/latest").json()["encrypted_data"] == "tablet's edit"


def test_a_replay_of_an_accepted_upload_still_gets_its_first_answer(alice_client):
    first = alice_client.post(
        URL, upload_body("v3", sync_version=3), format="json", HTTP_IDEMPOTENCY_KEY="k3"
    )
    alice_client.post(URL, upload_body("v5", sync_version=5), format="json")

    replay = alice_client.post(
        URL, upload_body("v3", sync_version=3), format="json", HTTP_IDEMPOTENCY_KEY="k3"
    )

    assert (replay.status_code, replay.json()["id"]) == (201, first.json()["id"])
    assert UserBackup.objects.count() == 2


def test_once_a_version_is_stored_an_upload_without_one_is_refused(alice_client):
    alice_client.post(URL, upload_body("v5", sync_version=5), format="json")

    response = alice_client.post(URL, upload_body("unversioned"), format="json")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This account's backups carry a sync_version (5 is stored); send the upload's own.",
        "code": "sync_version_required",
    }
    assert list(UserBackup.objects.values_list("sync_version", flat=True)) == [5]
    assert alice_client.get(f"{URL}/latest").json()["encrypted_data"] == "v5"


def test_backups_without_a_version_are_not_compared_with_each_other(alice_client):
    alice_client.post(URL, upload_body("first"), format="json")

    response = alice_client.post(URL, upload_body("second"), format="json")

    assert response.status_code == 201
    assert alice_client.get(f"{URL}/latest").json()["encrypted_data"] == "second"


def test_a_first_versioned_upload_follows_unversioned_ones(alice_client):
    alice_client.post(URL, upload_body("unversioned"), format="json")

    response = alice_client.post(URL, upload_body("v1", sync_version=1), format="json")

    assert response.status_code == 201
    assert alice_client.get(f"{URL}/latest").json()["encrypted_data"] == "v1"


def test_other_users_versions_do_not_count(alice_client, bob_client):
    bob_client.post(URL, upload_body("bob's v9", sync_version=9), format="json")

    assert alice_client.post(URL, upload_body("alice's v1", sync_version=1), format="json").status_code == 201
