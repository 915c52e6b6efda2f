import pytest
from rest_framework.test import APIClient

from accounts.models import User
from testing.helpers import run_concurrently

PASSWORD = "a sturdy passphrase 42"


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_email_create_one_user():
    def register(email):
        body = {"email": email, "password": PASSWORD}
        return lambda: APIClient().post("/api/auth/register", body, format="json").status_code

    emails = ["carol@example.com", "Carol@example.com", "CAROL@EXAMPLE.COM"] * 2
    statuses = run_concurrently(*(register(email) for email in emails))

    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]
    assert list(User.objects.values_list("email", flat=True)) == ["carol@example.com"]
