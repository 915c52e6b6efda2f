import threading

from django.conf import settings
from django.contrib.auth import hashers

from persona.exceptions import ServiceUnavailable


class PasswordCheckBusy(ServiceUnavailable):
    default_detail = "The server is busy checking other passwords; try again in a moment."
    default_code = "password_check_busy"

    def __init__(self):
        super().__init__(retry_after=1)


# A bcrypt hash holds a CPU for a quarter of a second. A worker runs at most
# PASSWORD_HASH_CONCURRENCY of them at once; a password check that finds every slot taken is
# answered 503 at once instead of waiting, so a flood of sign-ins can never occupy the
# threads that serve everyone else's requests.
_slots = threading.BoundedSemaphore(settings.PASSWORD_HASH_CONCURRENCY)


class BCryptSHA256PasswordHasher(hashers.BCryptSHA256PasswordHasher):
    """Django's bcrypt_sha256 hasher (same algorithm name and hashes), with bounded concurrency.
    Checking a password hashes it too: Django's verify() calls encode()."""

    def encode(self, password, salt):
        if not _slots.acquire(blocking=False):
            raise PasswordCheckBusy()
        try:
            return super().encode(password, salt)
        finally:
            _slots.release()
