from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException

from persona.exceptions import ServiceUnavailable


def _size(count: int) -> str:
    """Bytes as people read them: 10485760 -> "10 MiB"."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count} bytes"


class LimitReached(APIException):
    """An error whose body names the limit (and the use) as JSON numbers: DRF would turn
    every value of `detail` into a string."""

    def __init__(self, detail: str, **numbers: int):
        super().__init__({"detail": detail, "code": self.default_code})
        self.detail.update(numbers)


class BackupTooLarge(LimitReached):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "backup_too_large"

    def __init__(self, limit: int, where: str = ""):
        where = f" {where}" if where else ""
        super().__init__(f"A backup may hold at most {limit} bytes ({_size(limit)}){where}.", limit=limit)


class QuotaExceeded(LimitReached):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "quota_exceeded"

    def __init__(self, *, used: int, adding: int):
        limit = settings.BACKUP_QUOTA_BYTES
        super().__init__(
            f"This backup ({_size(adding)}) would take the account past its storage quota of "
            f"{_size(limit)}: {_size(used)} is in use by the backups kept beside it and unfinished "
            "uploads. Delete a backup or cancel an upload first.",
            limit=limit,
            used=used,
        )


class TooManyUploads(LimitReached):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_uploads"

    def __init__(self, *, unfinished: int):
        limit = settings.BACKUP_UPLOADS_PER_USER
        super().__init__(
            f"An account may have at most {limit} unfinished uploads ({unfinished} now): "
            "finish or cancel one first.",
            limit=limit,
            used=unfinished,
        )


class PayloadNotMoved(ServiceUnavailable):
    """A backup of the first version whose payload is still in the database column, between
    migrations 0002 and 0003 (backups.payload_move): it can be read once it is moved."""

    def __init__(self):
        super().__init__("This backup is being moved to storage; try again shortly.", retry_after=60)
