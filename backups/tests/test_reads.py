import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from backups.serializers import METADATA_FIELDS, BackupMetadataSerializer
from backups.tests.helpers import URL


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_latest_is_the_newest_backup_with_its_payload(alice_client, alice, make_backup):
    make_backup(alice, "older")
    newest = make_backup(alice, "newest", device_id="tablet", sync_version=3)

    response = alice_client.get(f"{URL}/latest")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(newest.id),
        "backup_date": iso(newest.backup_date),
        "data_size": 6,
        "checksum": newest.checksum,
        "device_id": "tablet",
        "sync_version": 3,
        "encrypted_data": "newest",
    }


def test_latest_is_404_without_backups(alice_client, bob, make_backup):
    make_backup(bob, "bob's")

    response = alice_client.get(f"{URL}/latest")

    assert response.status_code == 404
    assert response.json() == {"detail": "There is no backup yet."}


def test_latest_ignores_other_users_backups(alice_client, alice, bob, make_backup):
    mine = make_backup(alice, "alice's")
    make_backup(bob, "bob's, newer")

    response = alice_client.get(f"{URL}/latest")

    assert response.status_code == 200
    assert response.json()["id"] == str(mine.id)


def test_one_backup_by_id_carries_its_payload(alice_client, alice, make_backup):
    backup = make_backup(alice, "older")
    make_backup(alice, "newer")

    response = alice_client.get(f"{URL}/{backup.id}")

    assert response.status_code == 200
    assert response.json()["id"] == str(backup.id)
    assert response.json()["encrypted_data"] == "older"


def test_another_users_backup_is_404(alice_client, bob, make_backup):
    backup = make_backup(bob, "bob's")

    response = alice_client.get(f"{URL}/{backup.id}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_malformed_or_unknown_id_is_404(alice_client, alice, make_backup):
    make_backup(alice)

    for backup_id in ["not-a-uuid", "12345", "00000000-0000-0000-0000-000000000000"]:
        response = alice_client.get(f"{URL}/{backup_id}")
        assert response.status_code == 404, backup_id
        assert response.json() == {"detail": "Not found."}


def test_the_list_is_metadata_newest_first(alice_client, alice, bob, make_backup):
    older = make_backup(alice, "older", device_id="phone")
    newer = make_backup(alice, "newer", sync_version=9)
    make_backup(bob, "bob's")

    response = alice_client.get(URL)

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": str(newer.id),
            "backup_date": iso(newer.backup_date),
            "data_size": 5,
            "checksum": newer.checksum,
            "device_id": "",
            "sync_version": 9,
        },
        {
            "id": str(older.id),
            "backup_date": iso(older.backup_date),
            "data_size": 5,
            "checksum": older.checksum,
            "device_id": "phone",
            "sync_version": None,
        },
    ]


def test_the_list_is_one_query(alice_client, alice, make_backup):
    make_backup(alice, "x" * 1000)
    make_backup(alice, "y" * 1000)

    with CaptureQueriesContext(connection) as queries:
        response = alice_client.get(URL)

    assert response.status_code == 200
    assert len(response.json()) == 2
    backup_selects = [q for q in queries.captured_queries if "user_backups" in q["sql"]]
    assert len(backup_selects) == 1


def test_reads_need_a_token(api_client, alice, make_backup):
    backup = make_backup(alice)

    for path in [URL, f"{URL}/latest", f"{URL}/{backup.id}"]:
        assert api_client.get(path).status_code == 401, path


@pytest.mark.parametrize("extra", [{}, {"device_id": "phone", "sync_version": 3}])
def test_the_metadata_reads_as_its_declared_fields_would_give(alice, make_backup, extra):
    backup = make_backup(alice, "data", **extra)
    serializer = BackupMetadataSerializer()

    field_by_field = serializers.ModelSerializer.to_representation(serializer, backup)

    assert serializer.to_representation(backup) == field_by_field
    assert list(field_by_field) == METADATA_FIELDS
