"""Backup transfers in flight are bounded per worker (503) and per user (429)."""

import pytest
from django.core.cache import cache

from backups import transfers
from backups.models import UserBackup
from backups.tests.helpers import URL, upload_body

BUSY = {"detail": "The server is busy with other backup transfers; try again in a moment."}


@pytest.fixture
def worker_busy():
    """Every transfer slot of this worker is held by other requests."""
    held = 0
    while transfers._worker_slots.acquire(blocking=False):
        held += 1
    yield
    for _ in range(held):
        transfers._worker_slots.release()


def hold_user_slots(user):
    for number in range(2):
        cache.add(f"backups:transfer:{user.pk}:{number}", True)


@pytest.mark.parametrize("path", ["latest", "by-id"])
def test_a_download_beyond_the_workers_slots_is_a_503_at_once(
    alice_client, alice, make_backup, worker_busy, path
):
    backup = make_backup(alice)

    response = alice_client.get(f"{URL}/latest" if path == "latest" else f"{URL}/{backup.id}")

    assert response.status_code == 503
    assert response.json() == BUSY
    assert response["Retry-After"] == "2"


def test_an_upload_beyond_the_workers_slots_is_a_503_and_stores_nothing(alice_client, worker_busy):
    response = alice_client.post(URL, upload_body("refused"), format="json")

    assert response.status_code == 503
    assert response.json() == BUSY
    assert not UserBackup.objects.exists()


def test_a_users_transfers_beyond_their_slots_are_a_429_and_others_go_on(
    alice_client, bob_client, alice, bob, make_backup, settings
):
    settings.BACKUP_TRANSFERS_PER_USER = 2
    make_backup(alice)
    make_backup(bob)
    hold_user_slots(alice)

    download = alice_client.get(f"{URL}/latest")
    upload = alice_client.post(URL, upload_body("refused"), format="json")

    assert download.status_code == upload.status_code == 429
    assert download.json() == {
        "detail": "At most 2 backup transfers per account run at once. Expected available in 1 second."
    }
    assert download["Retry-After"] == "1"
    assert UserBackup.objects.filter(user=alice).count() == 1
    assert bob_client.get(f"{URL}/latest").status_code == 200


def test_every_slot_is_given_back_after_each_transfer_whatever_its_outcome(alice_client, alice, make_backup):
    backup = make_backup(alice)
    answers = [
        alice_client.post(URL, upload_body("ok"), format="json").status_code,
        alice_client.post(URL, {**upload_body("bad"), "checksum": "0" * 64}, format="json").status_code,
        alice_client.get(f"{URL}/{backup.id}").status_code,
        alice_client.get(f"{URL}/00000000-0000-0000-0000-000000000000").status_code,
        alice_client.get(f"{URL}/latest").status_code,
    ]

    assert answers == [201, 400, 200, 404, 200]
    assert all(transfers._worker_slots.acquire(blocking=False) for _ in range(2))
    transfers._worker_slots.release()
    transfers._worker_slots.release()
    assert not any(cache.get(f"backups:transfer:{alice.pk}:{number}") for number in range(2))


def test_listing_and_deleting_take_no_slot(alice_client, alice, make_backup, worker_busy):
    backup = make_backup(alice)

    assert alice_client.get(URL).status_code == 200
    assert alice_client.delete(f"{URL}/{backup.id}").status_code == 204
