import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import TokenFamily
from testing.helpers import run_concurrently


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_one_token_keep_the_user_signed_in_with_one_family(alice, tokens_for):
    refresh = tokens_for(alice)["refresh"]

    def refresh_it():
        return APIClient().post("/api/auth/refresh", {"refresh": refresh}, format="json")

    answers = run_concurrently(*[refresh_it] * 8)

    assert [answer.status_code for answer in answers] == [200] * 8
    family = TokenFamily.objects.get()
    assert family.revoked_at is None
    assert {RefreshToken(answer.data["refresh"])["jti"] for answer in answers} == {family.current_jti}
    follow_up = APIClient().post("/api/auth/refresh", {"refresh": answers[0].data["refresh"]}, format="json")
    assert follow_up.status_code == 200
