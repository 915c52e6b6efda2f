import pytest

from accounts.models import TokenFamily

URL = "/api/auth/logout"


@pytest.fixture
def pair(alice, tokens_for):
    return tokens_for(alice)


@pytest.fixture
def signed_in(api_client, pair):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    return api_client


def test_it_kills_the_refresh_token(signed_in, pair):
    response = signed_in.post(URL, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 205
    assert TokenFamily.objects.get().revoked_at is not None
    assert signed_in.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json").status_code == 401


def test_it_leaves_other_sessions_alone(signed_in, pair, alice, tokens_for):
    other = tokens_for(alice)

    signed_in.post(URL, {"refresh": pair["refresh"]}, format="json")

    assert (
        signed_in.post("/api/auth/refresh", {"refresh": other["refresh"]}, format="json").status_code == 200
    )


def test_logging_out_twice_is_fine(signed_in, pair, alice, tokens_for):
    signed_in.post(URL, {"refresh": pair["refresh"]}, format="json")
    signed_in.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(alice)['access']}")

    assert signed_in.post(URL, {"refresh": pair["refresh"]}, format="json").status_code == 205


def test_it_refuses_another_users_refresh_token(signed_in, bob, tokens_for):
    bobs = tokens_for(bob)

    response = signed_in.post(URL, {"refresh": bobs["refresh"]}, format="json")

    assert response.status_code == 400
    assert TokenFamily.objects.filter(user=bob, revoked_at__isnull=True).count() == 1


@pytest.mark.parametrize("body", [{}, {"refresh": "garbage"}])
def test_it_rejects_a_bad_refresh_token_with_400(signed_in, body):
    assert signed_in.post(URL, body, format="json").status_code == 400
    assert TokenFamily.objects.get().revoked_at is None


def test_it_needs_an_access_token(api_client, pair):
    assert api_client.post(URL, {"refresh": pair["refresh"]}, format="json").status_code == 401
    assert TokenFamily.objects.get().revoked_at is None


def test_logout_all_kills_every_token_of_the_user(signed_in, pair, alice, bob, tokens_for):
    second = tokens_for(alice, device_id="tablet")
    bobs = tokens_for(bob)

    response = signed_in.post("/api/auth/logout-all")

    assert response.status_code == 205
    assert TokenFamily.objects.filter(user=alice, revoked_at__isnull=True).count() == 0
    assert TokenFamily.objects.filter(user=bob, revoked_at__isnull=True).count() == 1
    for token in (pair["access"], second["access"]):
        signed_in.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert signed_in.get("/api/auth/profile").status_code == 401
    for token in (pair["refresh"], second["refresh"]):
        assert signed_in.post("/api/auth/refresh", {"refresh": token}, format="json").status_code == 401
    signed_in.credentials(HTTP_AUTHORIZATION=f"Bearer {bobs['access']}")
    assert signed_in.get("/api/auth/profile").status_code == 200
