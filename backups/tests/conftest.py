import pytest

from backups import services
from backups.tests.helpers import sha256


@pytest.fixture
def make_backup():
    """Stores a backup the way an upload does."""

    def make(user, data="ciphertext", **extra):
        backup, _ = services.backup_create(user=user, encrypted_data=data, checksum=sha256(data), **extra)
        return backup

    return make
