import pytest
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import TokenFamily
from accounts.tests import tokens as forge

URL = "/api/auth/refresh"


@pytest.fixture
def pair(alice, tokens_for):
    return tokens_for(alice)


def refresh(client, token):
    return client.post(URL, {"refresh": token}, format="json")


def test_it_rotates_the_refresh_token(api_client, pair):
    response = refresh(api_client, pair["refresh"])

    assert response.status_code == 200
    assert set(response.data) == {"access", "refresh"}
    assert response.data["refresh"] != pair["refresh"]
    family = TokenFamily.objects.get()
    assert family.current_jti == RefreshToken(response.data["refresh"])["jti"]
    assert family.previous_jti == RefreshToken(pair["refresh"])["jti"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.data['access']}")
    assert api_client.get("/api/auth/profile").status_code == 200


def test_the_new_refresh_token_rotates_again(api_client, pair):
    second = refresh(api_client, pair["refresh"]).data

    assert refresh(api_client, second["refresh"]).status_code == 200


def test_a_replay_within_the_grace_window_gets_the_current_token(api_client, pair):
    first = refresh(api_client, pair["refresh"])
    replay = refresh(api_client, pair["refresh"])

    assert replay.status_code == 200
    assert RefreshToken(replay.data["refresh"])["jti"] == RefreshToken(first.data["refresh"])["jti"]
    family = TokenFamily.objects.get()
    assert family.revoked_at is None
    assert refresh(api_client, first.data["refresh"]).status_code == 200


def test_a_replay_after_the_grace_window_revokes_the_family(api_client, pair, settings):
    settings.JWT_REFRESH_GRACE_SECONDS = 0
    newer = refresh(api_client, pair["refresh"]).data

    replay = refresh(api_client, pair["refresh"])

    assert replay.status_code == 401
    assert TokenFamily.objects.get().revoked_at is not None
    assert refresh(api_client, newer["refresh"]).status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {newer['access']}")
    assert api_client.get("/api/auth/profile").status_code == 401


def test_an_access_token_cannot_refresh(api_client, pair):
    response = refresh(api_client, pair["access"])

    assert response.status_code == 401
    assert TokenFamily.objects.get().previous_jti == ""


def test_a_refresh_token_is_not_an_access_token(api_client, pair):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['refresh']}")

    assert api_client.get("/api/auth/profile").status_code == 401


def test_a_deleted_users_refresh_token_gets_401(api_client, alice, pair):
    alice.delete()

    response = refresh(api_client, pair["refresh"])

    assert response.status_code == 401


def test_an_inactive_users_refresh_token_gets_401(api_client, alice, pair):
    alice.is_active = False
    alice.save(update_fields=["is_active"])

    assert refresh(api_client, pair["refresh"]).status_code == 401


def test_a_revoked_familys_refresh_token_gets_401(api_client, pair):
    TokenFamily.objects.update(revoked_at=timezone.now())

    assert refresh(api_client, pair["refresh"]).status_code == 401


@pytest.mark.parametrize(
    "make_bad",
    [
        lambda pair: "garbage",
        lambda pair: forge.expired_refresh(pair["refresh"]),
        lambda pair: forge.signed_with(pair["refresh"], "someone-elses-key-that-is-long-enough"),
        lambda pair: forge.unsigned(pair["refresh"]),
        lambda pair: forge.resigned(pair["refresh"], user_id="not-a-uuid"),
    ],
    ids=["garbage", "expired", "foreign-key", "alg-none", "bad-user-id"],
)
def test_it_rejects_invalid_refresh_tokens_with_401(api_client, pair, make_bad):
    response = refresh(api_client, make_bad(pair))

    assert response.status_code == 401
    assert TokenFamily.objects.get().previous_jti == ""


@pytest.mark.django_db
def test_it_rejects_a_missing_token_with_400(api_client):
    assert api_client.post(URL, {}, format="json").status_code == 400
