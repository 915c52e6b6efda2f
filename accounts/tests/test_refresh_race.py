import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import TokenFamily
from persona.testing import postgres_only


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_one_token_keep_the_user_signed_in_with_one_family(alice, tokens_for):
    refresh = tokens_for(alice)["refresh"]
    barrier = threading.Barrier(8)
    answers = []

    def refresh_it():
        barrier.wait()
        answers.append(APIClient().post("/api/auth/refresh", {"refresh": refresh}, format="json"))
        connection.close()

    threads = [threading.Thread(target=refresh_it) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [answer.status_code for answer in answers] == [200] * 8
    family = TokenFamily.objects.get()
    assert family.revoked_at is None
    assert {RefreshToken(answer.data["refresh"])["jti"] for answer in answers} == {family.current_jti}
    follow_up = APIClient().post("/api/auth/refresh", {"refresh": answers[0].data["refresh"]}, format="json")
    assert follow_up.status_code == 200
