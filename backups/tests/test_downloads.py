"""GET /api/sync/backup/<id>/download: the payload's bytes, streamed, resumable with Range."""

import pytest
from django.http import FileResponse

from backups import storage
from backups.models import UserBackup
from backups.tests.helpers import URL, upload

DATA = bytes(range(256)) * 8  # 2 KiB, not UTF-8 text


@pytest.fixture
def backup(alice_client):
    upload(alice_client, DATA)
    return UserBackup.objects.get()


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_it_streams_the_whole_payload_with_its_sha256_as_etag(alice_client, backup):
    response = alice_client.get(f"{URL}/{backup.id}/download")

    assert response.status_code == 200
    assert response.streaming
    assert body(response) == DATA
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Length"] == str(len(DATA))
    assert response["ETag"] == f'"{backup.checksum}"'
    assert response["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=1000-", 1000, 2048),
        ("bytes=0-9", 0, 10),
        ("bytes=2000-5000", 2000, 2048),
        ("bytes=-48", 2000, 2048),
    ],
)
def test_a_range_resumes_a_download_with_206(alice_client, backup, header, start, end):
    response = alice_client.get(f"{URL}/{backup.id}/download", HTTP_RANGE=header)

    assert response.status_code == 206
    assert body(response) == DATA[start:end]
    assert response["Content-Range"] == f"bytes {start}-{end - 1}/{len(DATA)}"
    assert response["Content-Length"] == str(end - start)


@pytest.mark.parametrize("header", ["bytes=2048-", "bytes=5000-6000", "bytes=-0"])
def test_a_range_past_the_end_is_416(alice_client, backup, header):
    response = alice_client.get(f"{URL}/{backup.id}/download", HTTP_RANGE=header)

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-1", "bytes=abc", "bytes=9-3", "bytes=-"])
def test_a_range_this_server_does_not_serve_gets_the_whole_payload(alice_client, backup, header):
    response = alice_client.get(f"{URL}/{backup.id}/download", HTTP_RANGE=header)

    assert response.status_code == 200
    assert body(response) == DATA


def test_if_range_naming_another_version_gets_the_whole_payload(alice_client, backup):
    response = alice_client.get(
        f"{URL}/{backup.id}/download", HTTP_RANGE="bytes=100-", HTTP_IF_RANGE='"other"'
    )

    assert response.status_code == 200
    assert body(response) == DATA


def test_if_none_match_with_the_etag_is_304(alice_client, backup):
    response = alice_client.get(f"{URL}/{backup.id}/download", HTTP_IF_NONE_MATCH=f'"{backup.checksum}"')

    assert response.status_code == 304
    assert response.content == b""


def test_another_users_backup_is_404(client_for, bob, backup):
    response = client_for(bob).get(f"{URL}/{backup.id}/download")

    assert response.status_code == 404


def test_it_needs_a_token(api_client, backup):
    response = api_client.get(f"{URL}/{backup.id}/download")

    assert response.status_code == 401


def test_a_json_backup_downloads_as_its_utf8_bytes(alice_client, alice, make_backup):
    backup = make_backup(alice, "héllo")

    response = alice_client.get(f"{URL}/{backup.id}/download")

    assert body(response) == "héllo".encode()


def test_the_json_endpoints_send_a_payload_that_is_not_text_to_download(alice_client, backup):
    for url in (f"{URL}/{backup.id}", f"{URL}/latest"):
        response = alice_client.get(url)

        assert response.status_code == 409
        assert response.json()["code"] == "download_required"
        assert f"{URL}/{backup.id}/download" in response.json()["detail"]


def test_the_json_endpoints_send_a_payload_too_large_for_json_to_download(alice_client, settings):
    text = b"a" * 3000
    upload(alice_client, text)
    settings.BACKUP_JSON_MAX_BYTES = 2999

    response = alice_client.get(f"{URL}/latest")

    assert response.status_code == 409
    assert response.json()["code"] == "download_required"


def test_a_text_payload_uploaded_with_tus_reads_through_the_json_endpoints(alice_client):
    upload(alice_client, b"ciphertext-as-base64==")

    response = alice_client.get(f"{URL}/latest")

    assert response.status_code == 200
    assert response.json()["encrypted_data"] == "ciphertext-as-base64=="


def test_s3_downloads_may_redirect_to_a_presigned_url(alice_client, backup, settings):
    if not storage.is_s3():
        pytest.skip("S3 only (make test-s3)")
    settings.BACKUP_S3_PRESIGNED_SECONDS = 60

    response = alice_client.get(f"{URL}/{backup.id}/download")

    assert response.status_code == 302
    assert "X-Amz-Signature=" in response["Location"]
    assert "X-Amz-Expires=" in response["Location"]


def test_from_a_folder_a_download_to_the_end_is_an_open_file_for_sendfile(alice_client, backup):
    if storage.is_s3():
        pytest.skip("folder storage only")

    whole = alice_client.get(f"{URL}/{backup.id}/download")
    assert isinstance(whole, FileResponse)  # Django hands it to the server's file_wrapper
    assert body(whole) == DATA
    rest = alice_client.get(f"{URL}/{backup.id}/download", HTTP_RANGE="bytes=2000-")
    assert isinstance(rest, FileResponse)
    assert body(rest) == DATA[2000:]
    part = alice_client.get(f"{URL}/{backup.id}/download", HTTP_RANGE="bytes=0-9")
    assert body(part) == DATA[:10]
    assert rest["Content-Length"] == "48"
    assert rest["Content-Type"] == "application/octet-stream"
