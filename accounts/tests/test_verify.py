import pytest
from django.utils import timezone

from accounts.models import TokenFamily
from accounts.tests import tokens as forge

URL = "/api/auth/verify"


@pytest.fixture
def pair(alice, tokens_for):
    return tokens_for(alice)


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_it_accepts_a_live_token(api_client, pair, kind):
    response = api_client.post(URL, {"token": pair[kind]}, format="json")

    assert response.status_code == 200
    assert response.json() == {"valid": True, "token_type": kind}


@pytest.mark.parametrize(
    "make_bad",
    [
        lambda pair: "garbage",
        lambda pair: forge.expired_access(pair["access"]),
        lambda pair: forge.expired_refresh(pair["refresh"]),
        lambda pair: forge.signed_with(pair["access"], "someone-elses-key-that-is-long-enough"),
        lambda pair: forge.unsigned(pair["access"]),
        lambda pair: forge.with_claims(pair["access"], user_id="00000000-0000-0000-0000-000000000000"),
        lambda pair: forge.resigned(pair["access"], fam="not-a-uuid"),
        lambda pair: forge.resigned(pair["access"], token_type="sliding"),
    ],
    ids=[
        "garbage",
        "expired-access",
        "expired-refresh",
        "foreign-key",
        "alg-none",
        "edited",
        "bad-fam",
        "type",
    ],
)
def test_it_rejects_invalid_tokens_with_401(api_client, pair, make_bad):
    response = api_client.post(URL, {"token": make_bad(pair)}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_it_rejects_tokens_of_a_revoked_family(api_client, pair, kind):
    TokenFamily.objects.update(revoked_at=timezone.now())

    response = api_client.post(URL, {"token": pair[kind]}, format="json")

    assert response.status_code == 401


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_it_rejects_tokens_of_an_inactive_user(api_client, alice, pair, kind):
    alice.is_active = False
    alice.save(update_fields=["is_active"])

    assert api_client.post(URL, {"token": pair[kind]}, format="json").status_code == 401


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_it_rejects_tokens_of_a_deleted_user(api_client, alice, pair, kind):
    alice.delete()

    assert api_client.post(URL, {"token": pair[kind]}, format="json").status_code == 401


def test_it_rejects_a_refresh_token_that_was_rotated_away(api_client, pair, settings):
    settings.JWT_REFRESH_GRACE_SECONDS = 0
    api_client.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")

    response = api_client.post(URL, {"token": pair["refresh"]}, format="json")

    assert response.status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": ["a"]}])
def test_it_rejects_a_missing_token_with_400(api_client, body):
    assert api_client.post(URL, body, format="json").status_code == 400
