"""An object store that does not answer: a 503 with Retry-After, nothing half-written."""

import pytest
from botocore.config import Config

from backups.models import BackupUpload, UserBackup
from backups.tests.helpers import URL, create_upload, upload_body


@pytest.fixture
def s3_down(settings):
    """S3 storage at a loopback port nothing listens on: every call fails at once."""
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "persona-backups",
                "endpoint_url": "http://127.0.0.1:9",
                "access_key": "key",
                "secret_key": "secret",
                "region_name": "us-east-1",
                "client_config": Config(retries={"max_attempts": 1}),
            },
        },
    }


def test_a_json_upload_is_503_and_stores_nothing(alice_client, s3_down):
    response = alice_client.post(URL, upload_body("payload"), format="json")

    assert response.status_code == 503
    assert response.json() == {"detail": "The backup storage is unavailable; try again later."}
    assert response["Retry-After"] == "5"
    assert not UserBackup.objects.exists()


def test_a_tus_creation_is_503_and_leaves_no_upload(alice_client, s3_down):
    response = create_upload(alice_client, b"payload")

    assert response.status_code == 503
    assert not BackupUpload.objects.exists()


def test_a_download_is_503(alice_client, alice, s3_down):
    backup = UserBackup.objects.create(
        user=alice,
        storage_key="backups/x",
        backup_date="2026-01-01T00:00:00Z",
        data_size=1,
        checksum="0" * 64,
    )

    response = alice_client.get(f"{URL}/{backup.id}/download")
    latest = alice_client.get(f"{URL}/latest")

    assert (response.status_code, latest.status_code) == (503, 503)
    assert response["Retry-After"] == "5"


def test_a_backup_whose_payload_is_not_moved_yet_is_503(alice_client, alice):
    """Between migrations 0002 and 0003 (backups_move_payloads still running)."""
    backup = UserBackup.objects.create(
        user=alice, storage_key="", backup_date="2026-01-01T00:00:00Z", data_size=1, checksum="0" * 64
    )

    response = alice_client.get(f"{URL}/{backup.id}/download")

    assert response.status_code == 503
    assert response.json() == {"detail": "This backup is being moved to storage; try again shortly."}
    assert response["Retry-After"] == "60"
