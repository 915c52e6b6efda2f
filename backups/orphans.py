"""Finding stored bytes that nothing refers to any more.

A payload is written before its row exists and deleted after its row is gone, so a crash
in between (or a storage that failed when a deletion was tried) leaves an object no backup
or upload refers to. This finds them: payloads without a backup, upload pieces without an
unfinished upload, and S3 multipart uploads nobody will finish. Only what is older than a
grace period counts: a payload written a moment ago may be waiting for its row's commit.
"""

import contextlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from django.utils import timezone

from backups import storage
from backups.models import BackupUpload, UserBackup

BATCH = 1000


@dataclass(frozen=True)
class Orphan:
    key: str
    multipart_id: str = ""  # an unfinished S3 multipart upload of `key`

    def delete(self) -> None:
        if self.multipart_id:
            storage.multipart_abort(self.key, self.multipart_id)
        else:
            storage.payload_delete(self.key)


def orphans_find(*, older_than: timedelta) -> Iterator[Orphan]:
    cutoff = timezone.now() - older_than
    yield from _payloads_without_backup(_older(storage.stored_objects("backups/"), cutoff))
    yield from _pieces_without_upload(_older(storage.stored_objects("uploads/"), cutoff))
    yield from _multiparts_without_upload(
        (key, upload_id) for key, upload_id, started in storage.multipart_uploads() if started < cutoff
    )


def _older(objects: Iterable[tuple[str, datetime]], cutoff: datetime) -> Iterator[str]:
    return (key for key, modified in objects if modified < cutoff)


def _payloads_without_backup(keys: Iterable[str]) -> Iterator[Orphan]:
    for batch in _batches(keys):
        known = set(UserBackup.objects.filter(storage_key__in=batch).values_list("storage_key", flat=True))
        yield from (Orphan(key) for key in batch if key not in known)


def _pieces_without_upload(keys: Iterable[str]) -> Iterator[Orphan]:
    """uploads/<id> (a folder's partial file) or uploads/<id>/pending-... (S3's remainder):
    kept only while the upload is unfinished and, for a remainder, still its current one."""
    for batch in _batches(keys):
        ids = {key.split("/")[1] for key in batch}
        states = dict(
            BackupUpload.objects.filter(pk__in=_uuids(ids), completed_at=None).values_list(
                "pk", "storage_state"
            )
        )
        states = {str(pk): state for pk, state in states.items()}
        for key in batch:
            upload_id = key.split("/")[1]
            current = (states.get(upload_id) or {}).get("pending") or {}
            if upload_id not in states or (key.count("/") > 1 and current.get("key") != key):
                yield Orphan(key)


def _multiparts_without_upload(multiparts: Iterable[tuple[str, str]]) -> Iterator[Orphan]:
    for batch in _batches(multiparts):
        ids = {key.rsplit("/", 1)[-1] for key, _ in batch}
        live = {
            state.get("multipart_id")
            for state in BackupUpload.objects.filter(pk__in=_uuids(ids), completed_at=None).values_list(
                "storage_state", flat=True
            )
        }
        yield from (Orphan(key, upload_id) for key, upload_id in batch if upload_id not in live)


def _batches(items: Iterable, size: int = BATCH) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _uuids(values: Iterable[str]) -> list[str]:
    """The values that are UUIDs: a stray object with another name cannot match an upload."""
    found = []
    for value in values:
        with contextlib.suppress(ValueError):
            found.append(str(uuid.UUID(value)))
    return found
