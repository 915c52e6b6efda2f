"""Bounds on backup transfers in flight, so a worker's memory stays within a known figure.

A backup payload passes through a request whole (a few copies of it: the body, the decoded
text, the database driver's buffer; or the stored text and its JSON on the way out), so
memory grows with the transfers a worker runs at once. Each worker runs at most
BACKUP_TRANSFERS_PER_WORKER of them (more get a 503 at once), and each user at most
BACKUP_TRANSFERS_PER_USER across every worker and instance (more get a 429), so one user
cannot take every slot.
"""

import threading

from django.conf import settings
from rest_framework.exceptions import Throttled

from persona.exceptions import ServiceUnavailable
from persona.slots import user_slot_release, user_slot_take

# A slot held by a worker that died mid-transfer is freed after this long.
USER_SLOT_SECONDS = 10 * 60

_worker_slots = threading.BoundedSemaphore(settings.BACKUP_TRANSFERS_PER_WORKER)


class TransferSlot:
    """One transfer's place in its worker and among its user's transfers; release() once."""

    def __init__(self, user_id):
        if not _worker_slots.acquire(blocking=False):
            raise ServiceUnavailable(
                "The server is busy with other backup transfers; try again in a moment.", retry_after=2
            )
        try:
            self._user_key = _take_user_slot(user_id)
        except BaseException:
            _worker_slots.release()
            raise
        self._released = False

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        _worker_slots.release()
        user_slot_release(self._user_key)


def _take_user_slot(user_id) -> str:
    limit = settings.BACKUP_TRANSFERS_PER_USER
    key = user_slot_take(kind="backups:transfer", user_id=user_id, limit=limit, seconds=USER_SLOT_SECONDS)
    if key is None:
        raise Throttled(wait=1, detail=f"At most {limit} backup transfers per account run at once.")
    return key


class ReleasesSlotOnClose:
    """A response (mixed in before its class) that gives its transfer slot back once the
    server has sent it: the server calls close() after the last byte, or when the client
    went away."""

    def __init__(self, *args, slot: TransferSlot, **kwargs):
        super().__init__(*args, **kwargs)
        self.slot = slot

    def close(self):
        try:
            super().close()
        finally:
            self.slot.release()
