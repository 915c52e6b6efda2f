"""Resumable uploads (tus 1.0): creating, resuming, appending, finishing and cancelling."""

import base64
import hashlib
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from backups import storage, uploads
from backups.models import BackupUpload, UserBackup
from backups.tests.helpers import (
    TUS,
    UPLOADS,
    append,
    create_upload,
    metadata,
    sha256_bytes,
    stored,
    stored_keys,
    upload,
)

DATA = bytes(range(256)) * 40  # 10 KiB, not UTF-8 text


def test_options_announce_the_version_extensions_and_limits_without_a_token(api_client, settings):
    response = api_client.options(UPLOADS)

    assert response.status_code == 204
    assert response["Tus-Resumable"] == "1.0.0"
    assert response["Tus-Version"] == "1.0.0"
    assert set(response["Tus-Extension"].split(",")) == {
        "creation",
        "creation-with-upload",
        "termination",
        "checksum",
        "expiration",
    }
    assert response["Tus-Max-Size"] == str(settings.BACKUP_MAX_BYTES)
    assert response["Tus-Checksum-Algorithm"] == "sha256"


def test_creating_an_upload_stores_its_declaration_and_no_backup(alice_client, alice):
    response = create_upload(alice_client, DATA, device_id="phone-1", sync_version=7, filename="x.bin")

    assert response.status_code == 201
    upload_row = BackupUpload.objects.get()
    assert response["Location"] == f"http://testserver{UPLOADS}/{upload_row.id}"
    assert response["Upload-Offset"] == "0"
    assert response["Tus-Resumable"] == "1.0.0"
    assert "Upload-Expires" in response
    assert (upload_row.user, upload_row.length, upload_row.offset) == (alice, len(DATA), 0)
    assert (upload_row.checksum, upload_row.device_id, upload_row.sync_version) == (
        sha256_bytes(DATA),
        "phone-1",
        7,
    )
    assert not UserBackup.objects.exists()


def test_an_upload_in_pieces_becomes_a_byte_exact_backup(alice_client, alice):
    location = create_upload(alice_client, DATA, device_id="phone-1", sync_version=3)["Location"]

    first = append(alice_client, location, DATA[:4000], 0)
    head = alice_client.head(location, **TUS)
    second = append(alice_client, location, DATA[4000:], 4000)

    assert (first.status_code, first["Upload-Offset"]) == (204, "4000")
    assert (head.status_code, head["Upload-Offset"], head["Upload-Length"]) == (200, "4000", str(len(DATA)))
    assert head["Cache-Control"] == "no-store"
    assert (second.status_code, second["Upload-Offset"]) == (204, str(len(DATA)))
    backup = UserBackup.objects.get()
    assert second["Backup-Id"] == str(backup.id)
    assert (backup.user, backup.data_size, backup.checksum) == (alice, len(DATA), sha256_bytes(DATA))
    assert (backup.device_id, backup.sync_version) == ("phone-1", 3)
    assert stored(backup) == DATA
    assert stored_keys() == [backup.storage_key]
    assert list(storage.stored_keys("uploads/")) == []
    assert BackupUpload.objects.get().backup == backup


def test_many_small_pieces_across_storage_parts_make_a_byte_exact_backup(alice_client):
    """Pieces smaller than an S3 part (held back until a part fills) and larger than one."""
    data = bytes(range(256)) * (17 * 4096 + 3)  # 17 MiB and a bit
    location = create_upload(alice_client, data)["Location"]
    offset = 0
    for size in (1000, 3 * 2**20, 9 * 2**20, 5, 4 * 2**20, len(data)):
        piece = data[offset : offset + size]
        response = append(alice_client, location, piece, offset)
        assert response.status_code == 204, response.content
        offset += len(piece)

    backup = UserBackup.objects.get()
    assert (backup.data_size, stored(backup)) == (len(data), data)
    assert list(storage.stored_keys("uploads/")) == []


def test_a_finished_upload_still_answers_head_with_its_backup(alice_client):
    upload(alice_client, DATA, pieces=2)
    location = f"{UPLOADS}/{BackupUpload.objects.get().id}"

    response = alice_client.head(location, **TUS)

    assert (response.status_code, response["Upload-Offset"]) == (200, str(len(DATA)))
    assert response["Backup-Id"] == str(UserBackup.objects.get().id)


def test_creation_with_upload_sends_the_first_bytes_in_the_post(alice_client):
    response = create_upload(alice_client, DATA, first_bytes=DATA[:1000])

    assert (response.status_code, response["Upload-Offset"]) == (201, "1000")
    assert BackupUpload.objects.get().offset == 1000


def test_creation_with_the_whole_upload_makes_the_backup_at_once(alice_client):
    response = create_upload(alice_client, DATA, first_bytes=DATA)

    assert response.status_code == 201
    assert stored(UserBackup.objects.get()) == DATA


def test_a_chunk_matching_its_upload_checksum_is_kept(alice_client):
    location = create_upload(alice_client, DATA)["Location"]

    response = append(alice_client, location, DATA[:100], 0, checksum=hashlib.sha256(DATA[:100]).digest())

    assert (response.status_code, response["Upload-Offset"]) == (204, "100")
    assert BackupUpload.objects.get().offset == 100


def test_a_chunk_not_matching_its_upload_checksum_is_460_and_not_kept(alice_client):
    location = create_upload(alice_client, DATA)["Location"]
    append(alice_client, location, DATA[:100], 0)

    response = append(alice_client, location, DATA[100:200], 100, checksum=hashlib.sha256(b"other").digest())
    retry = append(alice_client, location, DATA[100:], 100, checksum=hashlib.sha256(DATA[100:]).digest())

    assert response.status_code == 460
    assert response.json()["code"] == "checksum_mismatch"
    assert response["Tus-Resumable"] == "1.0.0"
    assert retry.status_code == 204
    assert stored(UserBackup.objects.get()) == DATA


@pytest.mark.parametrize(
    "header",
    [
        "md5 " + base64.b64encode(b"x" * 16).decode(),
        "sha256 not-base64!",
        "sha256 " + base64.b64encode(b"short").decode(),
    ],
)
def test_a_malformed_upload_checksum_is_400(alice_client, header):
    location = create_upload(alice_client, DATA)["Location"]

    response = alice_client.generic(
        "PATCH",
        location,
        DATA[:10],
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET="0",
        HTTP_UPLOAD_CHECKSUM=header,
        **TUS,
    )

    assert response.status_code == 400
    assert "Upload-Checksum" in response.json()
    assert BackupUpload.objects.get().offset == 0


def test_bytes_that_do_not_match_the_declared_checksum_never_become_a_backup(alice_client):
    location = create_upload(alice_client, DATA)["Location"]
    append(alice_client, location, DATA[:5000], 0)

    response = append(alice_client, location, b"\0" * (len(DATA) - 5000), 5000)

    assert response.status_code == 460
    assert response.json()["code"] == "checksum_mismatch"
    assert not UserBackup.objects.exists()
    assert not BackupUpload.objects.exists()
    assert stored_keys() == []
    assert list(storage.stored_keys("uploads/")) == []
    assert alice_client.head(location, **TUS).status_code == 404


def test_a_patch_at_the_wrong_offset_is_409_with_the_right_one(alice_client):
    location = create_upload(alice_client, DATA)["Location"]
    append(alice_client, location, DATA[:100], 0)

    response = append(alice_client, location, DATA[50:150], 50)

    assert response.status_code == 409
    assert response.json()["code"] == "offset_mismatch"
    assert response.json()["offset"] == 100
    assert BackupUpload.objects.get().offset == 100


def test_a_patch_to_a_finished_upload_is_409(alice_client):
    upload(alice_client, DATA)
    location = f"{UPLOADS}/{BackupUpload.objects.get().id}"

    response = append(alice_client, location, b"more", len(DATA))

    assert response.status_code == 409
    assert UserBackup.objects.count() == 1


def test_bytes_past_the_declared_length_are_413_and_not_kept(alice_client):
    location = create_upload(alice_client, DATA)["Location"]

    response = append(alice_client, location, DATA + b"extra", 0)

    assert response.status_code == 413
    assert response.json()["code"] == "past_length"
    assert BackupUpload.objects.get().offset == 0
    assert not UserBackup.objects.exists()


def test_a_patch_needs_the_offset_stream_content_type(alice_client):
    location = create_upload(alice_client, DATA)["Location"]

    response = alice_client.generic(
        "PATCH", location, DATA[:10], content_type="application/json", HTTP_UPLOAD_OFFSET="0", **TUS
    )

    assert response.status_code == 415
    assert BackupUpload.objects.get().offset == 0


@pytest.mark.parametrize("offset", [None, "-1", "abc", "1.5"])
def test_a_patch_needs_a_valid_upload_offset(alice_client, offset):
    location = create_upload(alice_client, DATA)["Location"]
    headers = {} if offset is None else {"HTTP_UPLOAD_OFFSET": offset}

    response = alice_client.generic(
        "PATCH", location, DATA[:10], content_type="application/offset+octet-stream", **headers, **TUS
    )

    assert response.status_code == 400
    assert "Upload-Offset" in response.json()


@pytest.mark.parametrize("version", [None, "0.2.2", "2.0.0"])
def test_requests_without_tus_1_0_0_are_412(alice_client, version):
    headers = {} if version is None else {"HTTP_TUS_RESUMABLE": version}

    response = alice_client.post(
        UPLOADS, HTTP_UPLOAD_LENGTH="10", HTTP_UPLOAD_METADATA=metadata(checksum="a" * 64), **headers
    )

    assert response.status_code == 412
    assert response["Tus-Version"] == "1.0.0"
    assert not BackupUpload.objects.exists()


@pytest.mark.parametrize(
    ("length", "metadata_header", "field"),
    [
        (None, metadata(checksum="a" * 64), "Upload-Length"),
        ("ten", metadata(checksum="a" * 64), "Upload-Length"),
        ("0", metadata(checksum="a" * 64), "Upload-Length"),
        ("10", "", "checksum"),
        ("10", metadata(checksum="xyz"), "checksum"),
        ("10", "checksum !!!", "Upload-Metadata"),
        (
            "10",
            f"{metadata(checksum='a' * 64)},checksum {base64.b64encode(b'b' * 64).decode()}",
            "Upload-Metadata",
        ),
        ("10", metadata(checksum="a" * 64, sync_version="seven"), "sync_version"),
        ("10", metadata(checksum="a" * 64, sync_version=-1), "sync_version"),
        ("10", metadata(checksum="a" * 64, device_id="d" * 256), "device_id"),
        ("10", metadata(checksum="a" * 64, idempotency_key="k" * 256), "idempotency_key"),
    ],
)
def test_a_malformed_declaration_is_400_and_creates_nothing(alice_client, length, metadata_header, field):
    headers = {"HTTP_UPLOAD_METADATA": metadata_header, **TUS}
    if length is not None:
        headers["HTTP_UPLOAD_LENGTH"] = length

    response = alice_client.post(UPLOADS, **headers)

    assert response.status_code == 400
    assert field in response.json()
    assert not BackupUpload.objects.exists()


def test_cancelling_an_upload_deletes_it_and_its_bytes(alice_client):
    location = create_upload(alice_client, DATA)["Location"]
    append(alice_client, location, DATA[:100], 0)

    response = alice_client.delete(location, **TUS)

    assert response.status_code == 204
    assert not BackupUpload.objects.exists()
    assert list(storage.stored_keys("uploads/")) == []
    assert alice_client.head(location, **TUS).status_code == 404


def test_cancelling_a_finished_upload_keeps_its_backup(alice_client):
    upload(alice_client, DATA)
    location = f"{UPLOADS}/{BackupUpload.objects.get().id}"

    response = alice_client.delete(location, **TUS)

    assert response.status_code == 204
    assert not BackupUpload.objects.exists()
    assert stored(UserBackup.objects.get()) == DATA


@pytest.mark.parametrize("method", ["head", "patch", "delete"])
def test_another_users_upload_is_404_and_untouched(alice_client, bob, client_for, method):
    location = create_upload(client_for(bob), DATA)["Location"]

    if method == "patch":
        response = append(alice_client, location, DATA, 0)
    else:
        response = getattr(alice_client, method)(location, **TUS)

    assert response.status_code == 404
    assert BackupUpload.objects.get().offset == 0


@pytest.mark.parametrize("method", ["post", "head", "patch", "delete"])
def test_uploads_need_a_token(api_client, alice_client, method):
    location = create_upload(alice_client, DATA)["Location"]
    url = UPLOADS if method == "post" else location

    response = getattr(api_client, method)(url, **TUS)

    assert response.status_code == 401
    assert BackupUpload.objects.get().offset == 0


def test_an_unknown_upload_is_404(alice_client):
    response = alice_client.head(f"{UPLOADS}/00000000-0000-0000-0000-000000000000", **TUS)

    assert response.status_code == 404


def test_a_retried_creation_with_the_same_idempotency_key_resumes_the_first_upload(alice_client):
    first = create_upload(alice_client, DATA, idempotency_key="k1")
    append(alice_client, first["Location"], DATA[:10], 0)

    again = create_upload(alice_client, DATA, idempotency_key="k1")

    assert again.status_code == 201
    assert again["Location"] == first["Location"]
    assert again["Upload-Offset"] == "10"
    assert again["Idempotent-Replayed"] == "true"
    assert BackupUpload.objects.count() == 1


def test_an_idempotency_key_reused_for_another_upload_is_409(alice_client):
    create_upload(alice_client, DATA, idempotency_key="k1")

    response = create_upload(alice_client, DATA[:100], idempotency_key="k1")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert BackupUpload.objects.count() == 1


def test_an_upload_older_than_a_stored_backup_is_409_before_any_byte(alice_client, alice, make_backup):
    make_backup(alice, "newer", sync_version=5)

    response = create_upload(alice_client, DATA, sync_version=4)

    assert response.status_code == 409
    assert response.json()["code"] == "stale_version"
    assert not BackupUpload.objects.exists()


def test_an_upload_overtaken_while_it_ran_is_refused_at_the_end(alice_client, alice, make_backup):
    location = create_upload(alice_client, DATA, sync_version=4)["Location"]
    append(alice_client, location, DATA[:100], 0)
    newer = make_backup(alice, "newer", sync_version=5)

    response = append(alice_client, location, DATA[100:], 100)

    assert response.status_code == 409
    assert response.json()["code"] == "stale_version"
    assert list(UserBackup.objects.all()) == [newer]
    assert not BackupUpload.objects.exists()
    assert stored_keys() == [newer.storage_key]


def test_a_finished_upload_prunes_beyond_backup_keep(alice_client, alice, make_backup, settings):
    settings.BACKUP_KEEP = 1
    make_backup(alice, "old")

    upload(alice_client, DATA)

    assert [stored(backup) for backup in UserBackup.objects.all()] == [DATA]


def test_an_upload_resumes_on_any_instance_from_the_database_alone(alice_client):
    """Nothing lives in the process: the next piece only needs the row and the stored bytes,
    as after a restart or on another app instance."""
    location = create_upload(alice_client, DATA)["Location"]
    append(alice_client, location, DATA[:3000], 0)
    uploads._running_digests = uploads.RunningDigests()  # as if another process

    head = alice_client.head(location, **TUS)
    with mock.patch.object(storage, "payload_sha256", wraps=storage.payload_sha256) as read_back:
        response = append(
            alice_client, location, DATA[int(head["Upload-Offset"]) :], int(head["Upload-Offset"])
        )

    assert response.status_code == 204
    assert stored(UserBackup.objects.get()) == DATA
    # Without the digest of the first piece, the payload's SHA-256 was read back from storage.
    assert read_back.call_count == 1


def test_pieces_arriving_at_one_process_are_hashed_once_as_they_arrive(alice_client):
    location = create_upload(alice_client, DATA)["Location"]

    with mock.patch.object(storage, "payload_sha256") as read_back:
        for offset in range(0, len(DATA), 3000):
            append(alice_client, location, DATA[offset : offset + 3000], offset)

    assert stored(UserBackup.objects.get()) == DATA
    assert read_back.call_count == 0


def test_a_refused_piece_does_not_count_in_the_running_digest(alice_client):
    location = create_upload(alice_client, DATA)["Location"]
    append(alice_client, location, DATA[:100], 0)
    append(alice_client, location, b"\0" * 100, 100, checksum=hashlib.sha256(b"other").digest())

    response = append(alice_client, location, DATA[100:], 100)

    assert response.status_code == 204
    assert stored(UserBackup.objects.get()) == DATA


def test_a_second_request_appending_at_once_is_423(alice_client):
    location = create_upload(alice_client, DATA)["Location"]
    row = BackupUpload.objects.get()
    # Another request holds the lease (it is mid-transfer).
    BackupUpload.objects.filter(pk=row.pk).update(
        lease_token=uuid.uuid4(), lease_expires_at=timezone.now() + timedelta(seconds=30)
    )

    response = append(alice_client, location, DATA[:10], 0)

    assert response.status_code == 423
    assert response.json()["code"] == "upload_locked"
    assert BackupUpload.objects.get().offset == 0


def test_first_bytes_in_a_post_need_the_offset_stream_content_type(alice_client):
    response = alice_client.generic(
        "POST",
        UPLOADS,
        DATA,
        content_type="application/json",
        HTTP_UPLOAD_LENGTH=str(len(DATA)),
        HTTP_UPLOAD_METADATA=metadata(checksum=sha256_bytes(DATA)),
        **TUS,
    )

    assert response.status_code == 415
    assert not BackupUpload.objects.exists()
