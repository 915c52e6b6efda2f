import threading

from django.contrib.auth import hashers

# One hash at a time per worker process (gunicorn runs one worker per CPU): a bcrypt hash
# holds a CPU for a quarter of a second, and several at once in one worker would leave the
# worker's other requests only a sliver of its CPU. Waiting sign-ins queue here instead,
# without holding the CPU, and the hashes still use every CPU (one per worker).
_hashing = threading.Lock()


class BCryptSHA256PasswordHasher(hashers.BCryptSHA256PasswordHasher):
    """Django's bcrypt_sha256 hasher (same algorithm name and hashes), one hash at a time.
    Checking a password hashes it too: Django's verify() calls encode()."""

    def encode(self, password, salt):
        with _hashing:
            return super().encode(password, salt)
