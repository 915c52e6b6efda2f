from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException


class BackupTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "backup_too_large"

    def __init__(self):
        limit = settings.BACKUP_MAX_BYTES
        super().__init__(
            {
                "detail": f"A backup may hold at most {limit} bytes ({limit / 2**20:g} MiB).",
                "code": self.default_code,
            }
        )
