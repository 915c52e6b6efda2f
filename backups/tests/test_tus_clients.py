"""Real tus clients, unmodified, against a live gunicorn: tuspy (Python) and tus-js-client
(Node, driven through testing/tus-js/upload.js), each also cut off in the middle of an upload
and resumed, and a download resumed with Range.

The payloads go where the environment says: a folder, or S3 when the suite runs under
`make test-s3` (the server inherits BACKUP_S3_*). There the server sends 8 MiB multipart parts
and keeps what is left between requests as a pending object; a payload over two parts, sent in
pieces that do not divide a part, goes through both.
"""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection
from tusclient.client import TusClient
from tusclient.uploader import Uploader

from backups.models import BackupUpload, UserBackup
from testing.helpers import http, live_gunicorn
from testing.servers import PROJECT

# The live server writes to the test database, which the flush after each test empties.
pytestmark = pytest.mark.django_db(transaction=True)

MIB = 1024 * 1024
# Over two 8 MiB parts, in pieces that divide neither a part nor the payload.
PAYLOAD_BYTES = 17 * MIB + 12345
CHUNK_BYTES = 3 * MIB + 4321
TUS = {"Tus-Resumable": "1.0.0"}
TUS_JS = PROJECT / "testing" / "tus-js"
# How long the server may take to finish with a request whose client went away.
SETTLE_SECONDS = 10


@dataclass
class Live:
    base: str
    token: str

    @property
    def uploads(self) -> str:
        return f"{self.base}/api/sync/backup/uploads"


@dataclass
class Payload:
    path: Path
    data: bytes

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory) -> str:
    """One gunicorn worker on the test database (a file on SQLite); yields its base URL."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        database_url = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        database_url = f"sqlite:///{db['NAME']}"
    server_env = {
        "DATABASE_URL": database_url,
        # Payloads apart from other tests': a folder of their own, or a prefix of the bucket.
        "BACKUP_STORAGE_DIR": str(tmp_path_factory.mktemp("tus-clients")),
        "BACKUP_S3_PREFIX": f"tests/{uuid.uuid4().hex}",
    }
    with live_gunicorn(**server_env) as (_, base):
        yield base


@pytest.fixture
def live(server, alice, tokens_for) -> Live:
    """The server and alice signed in: the server shares the tests' JWT_SECRET (the flush after
    the test deletes her and whatever the server stored for her)."""
    return Live(server, tokens_for(alice)["access"])


@pytest.fixture
def payload(tmp_path) -> Payload:
    """Random bytes, new for each test: a download of another backup cannot pass for this one."""
    data = os.urandom(PAYLOAD_BYTES)
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    return Payload(path, data)


# --- tuspy -------------------------------------------------------------------------------


class Sha256Uploader(Uploader):
    """tuspy's uploader sending Upload-Checksum in SHA-256, the server's one algorithm (tuspy's
    default is SHA-1)."""

    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


def tuspy_uploader(live: Live, payload: Payload, *, url: str | None = None) -> Sha256Uploader:
    """An uploader as an app makes one; given `url`, it resumes that upload (it asks HEAD where)."""
    client = TusClient(live.uploads, headers={"Authorization": f"Bearer {live.token}"})
    return Sha256Uploader(
        file_path=str(payload.path),
        client=client,
        url=url,
        chunk_size=CHUNK_BYTES,
        metadata={"checksum": payload.checksum, "filename": payload.path.name},
        upload_checksum=True,
    )


def tuspy_upload(live: Live, payload: Payload) -> str:
    """A whole upload with tuspy; returns the backup's id."""
    uploader = tuspy_uploader(live, payload)
    uploader.upload()
    return uploader.request.response_headers["backup-id"]


def upload_id(url: str) -> str:
    return url.rsplit("/", 1)[1]


def offset_of(live: Live, url: str) -> int:
    status, headers, _ = http("HEAD", url, headers=TUS, token=live.token)
    assert status == 200
    return int(headers["Upload-Offset"])


def download(live: Live, backup_id: str) -> bytes:
    status, _, body = http("GET", f"{live.base}/api/sync/backup/{backup_id}/download", token=live.token)
    assert status == 200
    return body


def assert_stored(live: Live, backup_id: str, payload: Payload) -> None:
    """The backup downloads as exactly the payload, and its upload is finished, none left open."""
    assert download(live, backup_id) == payload.data
    backup = UserBackup.objects.get(pk=backup_id)
    assert (backup.data_size, backup.checksum) == (PAYLOAD_BYTES, payload.checksum)
    upload = BackupUpload.objects.get()
    assert (upload.pk, upload.offset, upload.backup_id) == (backup.pk, PAYLOAD_BYTES, backup.pk)


def test_tuspy_uploads_in_checksummed_chunks_and_the_backup_is_stored(live, payload):
    uploader = tuspy_uploader(live, payload)

    uploader.upload()

    assert uploader.offset == PAYLOAD_BYTES
    backup_id = uploader.request.response_headers["backup-id"]
    assert backup_id == upload_id(uploader.url)
    status, _, listing = http("GET", f"{live.base}/api/sync/backup", token=live.token)
    assert status == 200
    [listed] = [backup for backup in listing if backup["id"] == backup_id]
    assert (listed["data_size"], listed["checksum"]) == (PAYLOAD_BYTES, payload.checksum)
    assert_stored(live, backup_id, payload)


def test_a_new_tuspy_uploader_resumes_where_a_dropped_one_stopped(live, payload):
    stopped_at = 2 * CHUNK_BYTES + MIB
    first = tuspy_uploader(live, payload)
    first.upload(stop_at=stopped_at)
    url = first.url
    del first  # as after the app restarts, with only the URL kept

    assert offset_of(live, url) == stopped_at
    second = tuspy_uploader(live, payload, url=url)
    assert second.offset == stopped_at
    second.upload()

    assert second.request.response_headers["backup-id"] == upload_id(url)
    assert_stored(live, upload_id(url), payload)


def patch_cut_off(live: Live, url: str, *, offset: int, declared: int, sent: bytes) -> None:
    """A PATCH that declares `declared` bytes, sends only `sent`, and closes the connection."""
    address = urlsplit(url)
    head = (
        f"PATCH {address.path} HTTP/1.1\r\n"
        f"Host: {address.netloc}\r\n"
        f"Authorization: Bearer {live.token}\r\n"
        "Tus-Resumable: 1.0.0\r\n"
        "Content-Type: application/offset+octet-stream\r\n"
        f"Upload-Offset: {offset}\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(head.encode() + sent)


def offset_once_past(live: Live, url: str, offset: int) -> int:
    """The upload's offset once it has moved past `offset`, or where it stands after
    SETTLE_SECONDS: the server saves what a cut request brought once it sees the end of it."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while (current := offset_of(live, url)) <= offset and time.monotonic() < deadline:
        time.sleep(0.05)
    return current


def test_a_connection_cut_mid_patch_keeps_what_arrived_and_tuspy_resumes_from_there(live, payload):
    uploader = tuspy_uploader(live, payload)
    uploader.upload(stop_at=CHUNK_BYTES)
    # Past the next 8 MiB part boundary on S3, and not a multiple of the server's reads.
    sent = payload.data[CHUNK_BYTES : CHUNK_BYTES + 6 * MIB + 777]

    patch_cut_off(live, uploader.url, offset=CHUNK_BYTES, declared=PAYLOAD_BYTES - CHUNK_BYTES, sent=sent)

    # Every byte sent reaches the server before the connection's end does (a FIN on loopback).
    assert offset_once_past(live, uploader.url, CHUNK_BYTES) == CHUNK_BYTES + len(sent)
    resumed = tuspy_uploader(live, payload, url=uploader.url)
    assert resumed.offset == CHUNK_BYTES + len(sent)
    resumed.upload()
    assert resumed.request.response_headers["backup-id"] == upload_id(uploader.url)
    assert_stored(live, upload_id(uploader.url), payload)


def test_a_download_cut_off_resumes_with_a_range(live, payload):
    path = f"/api/sync/backup/{tuspy_upload(live, payload)}/download"
    bearer = {"Authorization": f"Bearer {live.token}"}
    received = 5 * MIB + 99
    address = urlsplit(live.base)

    cut_off = HTTPConnection(address.hostname, address.port, timeout=10)
    cut_off.request("GET", path, headers=bearer)
    first = cut_off.getresponse()
    start = first.read(received)
    cut_off.close()  # the rest of the payload was on its way
    status, headers, rest = http(
        "GET",
        f"{live.base}{path}",
        headers={**bearer, "Range": f"bytes={received}-", "If-Range": first.headers["ETag"]},
    )

    assert status == 206
    assert headers["Content-Range"] == f"bytes {received}-{PAYLOAD_BYTES - 1}/{PAYLOAD_BYTES}"
    assert int(headers["Content-Length"]) == PAYLOAD_BYTES - received
    assert start + rest == payload.data


# --- tus-js-client -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def tus_js() -> list[str]:
    """The command that runs testing/tus-js/upload.js, its locked packages installed (`npm ci`
    when node_modules is missing or older than the lock file)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("needs Node.js 20 and npm on PATH to run tus-js-client")
    installed = TUS_JS / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < (TUS_JS / "package-lock.json").stat().st_mtime:
        npm_ci = subprocess.run(  # noqa: S603 (the packages of our own lock file)
            [npm, "ci"], cwd=TUS_JS, capture_output=True, text=True, timeout=300
        )
        assert npm_ci.returncode == 0, npm_ci.stderr
    return [node, str(TUS_JS / "upload.js")]


def tus_js_upload(tus_js: list[str], live: Live, payload: Payload, *options: str) -> dict:
    """Runs upload.js; returns what it printed (see its header)."""
    command = [
        *tus_js, "--endpoint", live.uploads, "--file", payload.path, "--token", live.token,
        "--chunk-size", str(CHUNK_BYTES), "--metadata", f"checksum={payload.checksum}",
        "--metadata", f"filename={payload.path.name}", *options,
    ]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=60)  # noqa: S603 (upload.js)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return json.loads(finished.stdout)


def test_tus_js_client_uploads_in_chunks_and_the_backup_is_stored(tus_js, live, payload):
    result = tus_js_upload(tus_js, live, payload)

    assert result["status"] == "complete"
    assert result["offset"] == PAYLOAD_BYTES
    assert result["backupId"] == upload_id(result["url"])
    assert_stored(live, result["backupId"], payload)


def test_tus_js_client_resumes_an_upload_it_aborted_mid_patch(tus_js, live, payload):
    # Half-way through the third PATCH: the abort cuts that request's connection.
    stop_after = 2 * CHUNK_BYTES + CHUNK_BYTES // 2

    aborted = tus_js_upload(tus_js, live, payload, "--stop-after", str(stop_after))

    assert aborted["status"] == "aborted"
    assert stop_after <= aborted["bytesSent"] < 3 * CHUNK_BYTES
    # The third PATCH's bytes that arrived are kept; bytesSent also counts its headers.
    assert 2 * CHUNK_BYTES < offset_once_past(live, aborted["url"], 2 * CHUNK_BYTES) <= aborted["bytesSent"]
    resumed = tus_js_upload(tus_js, live, payload, "--resume-url", aborted["url"])
    assert resumed["status"] == "complete"
    assert resumed["url"] == aborted["url"]
    assert resumed["backupId"] == upload_id(aborted["url"])
    assert_stored(live, resumed["backupId"], payload)
