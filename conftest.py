import uuid

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import token_family_start
from testing.helpers import PASSWORD


@pytest.fixture(autouse=True)
def fast_password_hasher(request, settings):
    """bcrypt at 12 rounds costs ~0.25 s a hash; tests use a fast one unless marked."""
    if "real_hasher" not in request.keywords:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def separate_backup_storage(settings, tmp_path_factory):
    """Each test stores payloads apart: in its own folder (made when the first payload is
    written), or under its own prefix of the bucket when the suite runs on S3
    (BACKUP_S3_BUCKET, `make test-s3`)."""
    backups = settings.STORAGES["backups"]
    if settings.BACKUP_S3_BUCKET:
        location = f"tests/{uuid.uuid4().hex}"
    else:
        location = str(tmp_path_factory.getbasetemp() / "backup-payloads" / uuid.uuid4().hex)
    options = {**backups["OPTIONS"], "location": location}
    settings.STORAGES = {**settings.STORAGES, "backups": {**backups, "OPTIONS": options}}


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def alice(db):
    return User.objects.create_user(email="alice@example.com", password=PASSWORD)


@pytest.fixture
def bob(db):
    return User.objects.create_user(email="bob@example.com", password=PASSWORD)


@pytest.fixture
def tokens_for():
    """A fresh token pair (a new sign-in) for a user."""

    def issue(user, device_id=""):
        return token_family_start(user=user, device_id=device_id)

    return issue


@pytest.fixture
def client_for(tokens_for):
    """An API client signed in as the user."""

    def make(user, device_id=""):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(user, device_id)['access']}")
        return client

    return make


@pytest.fixture
def alice_client(client_for, alice):
    return client_for(alice)


@pytest.fixture
def bob_client(client_for, bob):
    return client_for(bob)
