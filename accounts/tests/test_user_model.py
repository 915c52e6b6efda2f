import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core.management import call_command
from django.db import IntegrityError

from accounts.models import User
from testing.helpers import PASSWORD


@pytest.mark.django_db
def test_the_database_refuses_emails_differing_only_in_case(alice):
    # Saving the model directly skips the manager's lower-casing: only the constraint is left.
    with pytest.raises(IntegrityError):
        User(email="ALICE@example.com").save()


@pytest.mark.django_db
def test_ids_are_uuids(alice):
    assert len(str(alice.id)) == 36


@pytest.mark.django_db
@pytest.mark.real_hasher
def test_passwords_are_stored_as_bcrypt_sha256_with_12_rounds():
    user = User.objects.create_user(email="carol@example.com", password=PASSWORD)

    assert identify_hasher(user.password).algorithm == "bcrypt_sha256"
    assert user.password.startswith("bcrypt_sha256$$2b$12$")
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
def test_createsuperuser_works_with_email_and_noinput(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Admin@Example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)

    call_command("createsuperuser", "--noinput", verbosity=0)

    admin = User.objects.get()
    assert (admin.email, admin.is_staff, admin.is_superuser) == ("admin@example.com", True, True)
    assert admin.check_password(PASSWORD)
