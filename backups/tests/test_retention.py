from uuid import UUID

import pytest

from backups import services
from backups.models import UserBackup
from backups.tests.helpers import URL, sha256, stored, stored_keys, upload_body
from testing.helpers import run_concurrently


def test_an_upload_prunes_the_oldest_beyond_backup_keep(alice_client, alice, bob, make_backup, settings):
    settings.BACKUP_KEEP = 3
    oldest = make_backup(alice, "0")
    kept = [make_backup(alice, str(n)).id for n in range(1, 3)]
    bobs = [make_backup(bob, str(n)).id for n in range(3)]

    response = alice_client.post(URL, upload_body("newest"), format="json")

    assert response.status_code == 201
    remaining = set(UserBackup.objects.filter(user=alice).values_list("id", flat=True))
    assert remaining == {*kept, UUID(response.json()["id"])}
    assert oldest.id not in remaining
    assert set(UserBackup.objects.filter(user=bob).values_list("id", flat=True)) == set(bobs)


@pytest.mark.parametrize("keep", [1, 0])
def test_the_upload_just_made_is_never_pruned(alice_client, alice, make_backup, settings, keep):
    settings.BACKUP_KEEP = keep
    make_backup(alice, "old")

    response = alice_client.post(URL, upload_body("new"), format="json")

    assert response.status_code == 201
    backup = UserBackup.objects.get()
    assert (backup.id, stored(backup)) == (UUID(response.json()["id"]), b"new")


def test_pruning_deletes_the_pruned_payloads(
    alice_client, alice, make_backup, settings, django_capture_on_commit_callbacks
):
    settings.BACKUP_KEEP = 2
    make_backup(alice, "a" * 1000)
    make_backup(alice, "b" * 1000)

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(URL, upload_body("c"), format="json")

    assert response.status_code == 201
    kept = UserBackup.objects.all()
    assert sorted(stored(backup) for backup in kept) == [b"b" * 1000, b"c"]
    assert stored_keys() == sorted(backup.storage_key for backup in kept)


def test_a_refused_upload_prunes_nothing(alice_client, alice, make_backup, settings):
    settings.BACKUP_KEEP = 1
    kept = make_backup(alice, "kept")

    response = alice_client.post(URL, {"encrypted_data": "x", "checksum": sha256("y")}, format="json")

    assert response.status_code == 400
    assert list(UserBackup.objects.values_list("id", flat=True)) == [kept.id]


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_never_leave_more_than_backup_keep(alice, settings):
    settings.BACKUP_KEEP = 2
    uploads = 6

    def upload(n):
        return lambda: services.backup_create(user=alice, encrypted_data=str(n), checksum=sha256(str(n)))[0]

    stored = run_concurrently(*(upload(n) for n in range(uploads)))

    assert all(isinstance(backup, UserBackup) for backup in stored)
    newest_two = sorted(stored, key=lambda backup: backup.backup_date)[-2:]
    assert set(UserBackup.objects.values_list("id", flat=True)) == {backup.id for backup in newest_two}
