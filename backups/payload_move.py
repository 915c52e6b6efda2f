"""Moving payloads out of the database: the first version kept each backup's payload in the
`encrypted_data` TEXT column; now the bytes live in storage (backups.storage).

Used by `manage.py backups_move_payloads` (with the schema at migration 0002, while the
column still exists) and by migration 0003 for whatever is left before it drops the column,
so `migrate` alone never loses a payload. Both pass the model as the migration state has it.
"""

import hashlib
from collections.abc import Callable

from backups import storage

BATCH = 100


def payloads_move(UserBackup, *, progress: Callable[[int, int, int], None] | None = None) -> tuple[int, int]:
    """Writes every payload still in the column to storage, then points the row at it and
    empties the column, one row at a time: stopped at any point, a second run goes on where
    this one stopped, and a row moved twice is written to the same key. Returns (moved, of
    which the bytes did not match the stored checksum: moved as they are, reported)."""
    waiting = UserBackup.objects.filter(storage_key="").order_by("pk")
    total = waiting.count()
    moved = mismatched = 0
    last = None
    while True:
        batch = waiting if last is None else waiting.filter(pk__gt=last)
        rows = list(batch.values_list("pk", "user_id", "checksum", "encrypted_data")[:BATCH])
        if not rows:
            return moved, mismatched
        for pk, user_id, checksum, text in rows:
            data = (text or "").encode("utf-8")
            key = storage.backup_key(user_id, pk)
            storage.payload_save(key, data)
            UserBackup.objects.filter(pk=pk, storage_key="").update(storage_key=key, encrypted_data=None)
            moved += 1
            mismatched += hashlib.sha256(data).hexdigest() != checksum
        last = rows[-1][0]
        if progress is not None:
            progress(moved, total, mismatched)
