from uuid import UUID

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backups import services
from backups.models import UserBackup
from backups.tests.helpers import URL, selects_payload, sha256, upload_body
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
    assert list(UserBackup.objects.values_list("id", "encrypted_data")) == [
        (UUID(response.json()["id"]), "new")
    ]


def test_pruning_never_loads_payloads(alice_client, alice, make_backup, settings):
    settings.BACKUP_KEEP = 2
    make_backup(alice, "a" * 1000)
    make_backup(alice, "b" * 1000)

    with CaptureQueriesContext(connection) as queries:
        response = alice_client.post(URL, upload_body("c"), format="json")

    assert response.status_code == 201
    assert UserBackup.objects.count() == 2
    assert any(q["sql"].startswith("DELETE") for q in queries.captured_queries)
    assert not selects_payload(queries.captured_queries)


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
