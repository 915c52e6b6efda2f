"""What the backup tests share besides fixtures."""

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
