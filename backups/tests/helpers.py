"""What the backup tests share besides fixtures."""

import base64
import hashlib

from backups import storage

URL = "/api/sync/backup"


def sha256(data: str) -> str:
    """What a client sends as `checksum`."""
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def upload_body(data: str, **extra) -> dict:
    return {"encrypted_data": data, "checksum": sha256(data), **extra}


def stored_keys() -> list[str]:
    """The keys of every backup payload in storage."""
    return sorted(storage.stored_keys("backups/"))


def stored(backup) -> bytes:
    """A backup's payload as stored."""
    return storage.payload_read_all(backup.storage_key)


UPLOADS = f"{URL}/uploads"
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
OFFSET_STREAM = "application/offset+octet-stream"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def metadata(**values) -> str:
    """An Upload-Metadata header: `key base64(value)` pairs."""
    return ",".join(
        f"{key} {base64.b64encode(str(value).encode()).decode()}" for key, value in values.items()
    )


def create_upload(client, data: bytes, *, first_bytes: bytes = b"", **values):
    """POSTs a tus upload declaring `data` (its length and checksum) and `values`, sending
    `first_bytes` with it (creation-with-upload) when given."""
    values = {"checksum": sha256_bytes(data), **values}
    headers = {"HTTP_UPLOAD_LENGTH": str(len(data)), "HTTP_UPLOAD_METADATA": metadata(**values), **TUS}
    if first_bytes:
        return client.generic("POST", UPLOADS, first_bytes, content_type=OFFSET_STREAM, **headers)
    return client.post(UPLOADS, **headers)


def append(client, location: str, chunk: bytes, offset: int, *, checksum: bytes | None = None):
    """PATCHes `chunk` at `offset`; `checksum` is sent as Upload-Checksum (sha256)."""
    headers = {"HTTP_UPLOAD_OFFSET": str(offset), **TUS}
    if checksum is not None:
        headers["HTTP_UPLOAD_CHECKSUM"] = f"sha256 {base64.b64encode(checksum).decode()}"
    return client.generic("PATCH", location, chunk, content_type="application/offset+octet-stream", **headers)


def upload(client, data: bytes, *, pieces: int = 1, **values):
    """A whole tus upload of `data` in `pieces` PATCHes; returns the last answer."""
    location = create_upload(client, data, **values)["Location"]
    size = -(-len(data) // pieces)
    for offset in range(0, len(data), size):
        answer = append(client, location, data[offset : offset + size], offset)
        assert answer.status_code == 204, answer.content
    return answer
