"""The limits on backup storage: the largest backup, the quota per account, unfinished uploads
per account, and how long an unfinished upload lives. Each is refused before a byte is sent
and names the limit and the use."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from backups import storage
from backups.models import BackupUpload, UserBackup
from backups.tests.helpers import (
    TUS,
    URL,
    append,
    create_upload,
    upload,
    upload_body,
)

DATA = b"z" * 1000


def test_an_upload_longer_than_backup_max_bytes_is_413_before_any_byte(alice_client, settings):
    settings.BACKUP_MAX_BYTES = 999

    response = create_upload(alice_client, DATA)

    assert response.status_code == 413
    assert response.json() == {
        "detail": "A backup may hold at most 999 bytes (999 bytes).",
        "code": "backup_too_large",
        "limit": 999,
    }
    assert not BackupUpload.objects.exists()


def test_an_upload_past_the_quota_is_413_naming_the_quota_and_the_use(
    alice_client, alice, make_backup, settings
):
    settings.BACKUP_QUOTA_BYTES = 2500
    make_backup(alice, "a" * 1000)
    create_upload(alice_client, b"b" * 1000)

    response = create_upload(alice_client, b"c" * 501)

    assert response.status_code == 413
    body = response.json()
    assert (body["code"], body["limit"], body["used"]) == ("quota_exceeded", 2500, 2000)
    assert "2.44 KiB" in body["detail"]
    assert BackupUpload.objects.count() == 1


def test_an_upload_that_fits_the_quota_exactly_is_accepted(alice_client, alice, make_backup, settings):
    settings.BACKUP_QUOTA_BYTES = 2000
    make_backup(alice, "a" * 1000)

    response = create_upload(alice_client, DATA)

    assert response.status_code == 201


def test_the_quota_counts_only_the_backups_retention_keeps(alice_client, alice, make_backup, settings):
    """The oldest backup goes when this one is stored, so it does not count against it."""
    settings.BACKUP_QUOTA_BYTES = 2000
    settings.BACKUP_KEEP = 2
    make_backup(alice, "a" * 1000)
    make_backup(alice, "b" * 1000)

    response = upload(alice_client, DATA)

    assert response.status_code == 204
    assert sorted(b.data_size for b in UserBackup.objects.all()) == [1000, 1000]


def test_the_quota_applies_to_json_uploads_too(alice_client, alice, make_backup, settings):
    settings.BACKUP_QUOTA_BYTES = 1500
    make_backup(alice, "a" * 1000)

    response = alice_client.post(URL, upload_body("b" * 501), format="json")

    assert response.status_code == 413
    assert response.json()["code"] == "quota_exceeded"
    assert UserBackup.objects.count() == 1


def test_one_users_quota_is_not_anothers(alice_client, bob, make_backup, settings):
    settings.BACKUP_QUOTA_BYTES = 1000
    make_backup(bob, "a" * 1000)

    assert create_upload(alice_client, DATA).status_code == 201


def test_unfinished_uploads_per_account_are_capped_at_429(alice_client, settings):
    settings.BACKUP_UPLOADS_PER_USER = 2
    create_upload(alice_client, DATA)
    create_upload(alice_client, DATA)

    response = create_upload(alice_client, DATA)

    assert response.status_code == 429
    assert response.json() == {
        "detail": "An account may have at most 2 unfinished uploads (2 now): finish or cancel one first.",
        "code": "too_many_uploads",
        "limit": 2,
        "used": 2,
    }
    assert BackupUpload.objects.count() == 2


def test_finished_and_expired_uploads_do_not_count_against_the_cap(alice_client, settings):
    settings.BACKUP_UPLOADS_PER_USER = 1
    upload(alice_client, DATA)
    create_upload(alice_client, b"other")
    BackupUpload.objects.filter(completed_at=None).update(expires_at=timezone.now())

    response = create_upload(alice_client, b"third")

    assert response.status_code == 201


def test_an_expired_upload_no_longer_counts_against_the_quota(alice_client, settings):
    settings.BACKUP_QUOTA_BYTES = 1500
    create_upload(alice_client, DATA)
    assert create_upload(alice_client, DATA).status_code == 413
    BackupUpload.objects.update(expires_at=timezone.now())

    response = create_upload(alice_client, DATA)

    assert response.status_code == 201


def test_an_expired_upload_is_410(alice_client):
    location = create_upload(alice_client, DATA)["Location"]
    BackupUpload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    head = alice_client.head(location, **TUS)
    patch = append(alice_client, location, DATA, 0)

    assert (head.status_code, patch.status_code) == (410, 410)
    assert patch.json()["code"] == "upload_expired"
    assert not UserBackup.objects.exists()


def test_the_expiry_is_announced_in_http_date_form(alice_client, settings):
    settings.BACKUP_UPLOAD_EXPIRY_SECONDS = 3600

    response = create_upload(alice_client, DATA)

    expires = BackupUpload.objects.get().expires_at
    assert abs(expires - timezone.now() - timedelta(hours=1)) < timedelta(seconds=5)
    assert response["Upload-Expires"].endswith(" GMT")


def test_the_expiry_command_deletes_expired_uploads_and_their_bytes(alice_client, capsys):
    expired = create_upload(alice_client, DATA)["Location"]
    append(alice_client, expired, DATA[:10], 0)
    live = create_upload(alice_client, b"live")["Location"]
    BackupUpload.objects.filter(pk=expired.rsplit("/", 1)[1]).update(expires_at=timezone.now())

    call_command("expire_backup_uploads", "--dry-run")
    assert "Would delete 1 expired upload(s)." in capsys.readouterr().out
    assert BackupUpload.objects.count() == 2

    call_command("expire_backup_uploads")

    assert "Deleted 1 expired upload(s)." in capsys.readouterr().out
    assert [str(u.id) for u in BackupUpload.objects.all()] == [live.rsplit("/", 1)[1]]
    assert not [key for key in storage.stored_keys("uploads/") if expired.rsplit("/", 1)[1] in key]


@pytest.mark.parametrize(
    ("limit", "code"), [("BACKUP_MAX_BYTES", "backup_too_large"), ("BACKUP_QUOTA_BYTES", "quota_exceeded")]
)
def test_a_creation_with_upload_past_a_limit_is_refused_and_nothing_is_stored(
    alice_client, settings, limit, code
):
    setattr(settings, limit, 10)

    response = create_upload(alice_client, DATA, first_bytes=DATA)

    assert response.status_code == 413
    assert response.json()["code"] == code
    assert not BackupUpload.objects.exists()
    assert list(storage.stored_keys("uploads/")) == []
