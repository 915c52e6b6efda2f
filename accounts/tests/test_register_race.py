import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import User
from persona.testing import postgres_only

PASSWORD = "a sturdy passphrase 42"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_email_create_one_user():
    barrier = threading.Barrier(6)
    statuses = []

    def register(email):
        barrier.wait()
        response = APIClient().post(
            "/api/auth/register", {"email": email, "password": PASSWORD}, format="json"
        )
        statuses.append(response.status_code)
        connection.close()

    emails = ["carol@example.com", "Carol@example.com", "CAROL@EXAMPLE.COM"] * 2
    threads = [threading.Thread(target=register, args=(email,)) for email in emails]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]
    assert list(User.objects.values_list("email", flat=True)) == ["carol@example.com"]
