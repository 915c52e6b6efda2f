"""Password hashes run one at a time per worker, so sign-ins cannot take every thread's CPU."""

import threading
import time

import bcrypt
import pytest
from django.conf import settings
from django.contrib.auth.hashers import identify_hasher

from accounts.hashers import BCryptSHA256PasswordHasher


@pytest.mark.real_hasher
def test_it_is_the_production_hasher_and_reads_djangos_bcrypt_sha256_hashes():
    assert settings.PASSWORD_HASHERS[0] == "accounts.hashers.BCryptSHA256PasswordHasher"
    hasher = BCryptSHA256PasswordHasher()
    hasher.rounds = 4

    encoded = hasher.encode("correct horse", hasher.salt())

    assert encoded.startswith("bcrypt_sha256$$2b$04$")
    assert identify_hasher(encoded).algorithm == "bcrypt_sha256"
    assert hasher.verify("correct horse", encoded)
    assert not hasher.verify("wrong horse", encoded)


def test_concurrent_checks_hash_one_at_a_time(monkeypatch):
    hasher = BCryptSHA256PasswordHasher()
    hasher.rounds = 4
    encoded = hasher.encode("correct horse", hasher.salt())
    hashing, most = [], []
    real_hashpw = bcrypt.hashpw

    def observed_hashpw(password, salt):
        hashing.append(1)
        most.append(len(hashing))
        time.sleep(0.01)
        try:
            return real_hashpw(password, salt)
        finally:
            hashing.pop()

    monkeypatch.setattr(bcrypt, "hashpw", observed_hashpw)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(hasher.verify("correct horse", encoded)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [True] * 4
    assert max(most) == 1
