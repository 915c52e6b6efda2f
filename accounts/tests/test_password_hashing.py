"""Password hashes are bounded per worker and never queue: a check beyond the bound is a 503."""

import threading
import time

import bcrypt
import pytest
from django.conf import settings
from django.contrib.auth.hashers import identify_hasher

from accounts import hashers
from accounts.hashers import BCryptSHA256PasswordHasher, PasswordCheckBusy
from accounts.models import TokenFamily
from testing.helpers import PASSWORD


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


def test_a_check_that_finds_the_hashing_slot_taken_is_refused_at_once(monkeypatch):
    hasher = BCryptSHA256PasswordHasher()
    hasher.rounds = 4
    encoded = hasher.encode("correct horse", hasher.salt())
    hashing, release = threading.Event(), threading.Event()
    real_hashpw = bcrypt.hashpw

    def slow_hashpw(password, salt):
        hashing.set()
        release.wait(timeout=10)
        return real_hashpw(password, salt)

    monkeypatch.setattr(bcrypt, "hashpw", slow_hashpw)
    first = []
    holder = threading.Thread(target=lambda: first.append(hasher.verify("correct horse", encoded)))
    holder.start()
    assert hashing.wait(timeout=10)

    started = time.monotonic()
    with pytest.raises(PasswordCheckBusy) as refused:
        hasher.verify("correct horse", encoded)
    waited = time.monotonic() - started

    release.set()
    holder.join(timeout=10)
    assert first == [True]
    assert waited < 1
    assert (refused.value.status_code, refused.value.retry_after) == (503, 1)
    monkeypatch.setattr(bcrypt, "hashpw", real_hashpw)
    assert hasher.verify("correct horse", encoded)


@pytest.mark.real_hasher
def test_a_busy_sign_in_is_a_503_with_retry_after_and_signs_nobody_in(api_client, alice):
    hashers._slots.acquire()  # another request is hashing
    try:
        response = api_client.post(
            "/api/auth/login", {"email": "alice@example.com", "password": PASSWORD}, format="json"
        )
    finally:
        hashers._slots.release()

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json() == {"detail": PasswordCheckBusy.default_detail}
    assert not TokenFamily.objects.exists()
