import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import TokenFamily
from testing.helpers import PASSWORD

URL = "/api/auth/login"


def test_it_signs_in_with_email_and_password(api_client, alice):
    response = api_client.post(URL, {"email": "alice@example.com", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert response.data["user"]["id"] == str(alice.id)
    assert set(response.data) == {"user", "access", "refresh"}
    family = TokenFamily.objects.get(user=alice)
    assert RefreshToken(response.data["refresh"])["fam"] == str(family.id)
    assert family.device_id == ""


def test_it_matches_the_email_case_insensitively(api_client, alice):
    response = api_client.post(URL, {"email": " Alice@EXAMPLE.com", "password": PASSWORD}, format="json")

    assert response.status_code == 200


def test_it_binds_the_session_to_a_device(api_client, alice):
    body = {"email": "alice@example.com", "password": PASSWORD, "device_id": "tablet"}

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 200
    assert TokenFamily.objects.get(user=alice).device_id == "tablet"


def test_it_answers_the_same_401_for_unknown_email_wrong_password_and_inactive_user(api_client, alice, bob):
    bob.is_active = False
    bob.save(update_fields=["is_active"])

    unknown = api_client.post(URL, {"email": "nobody@example.com", "password": PASSWORD}, format="json")
    wrong = api_client.post(URL, {"email": "alice@example.com", "password": "wrong password"}, format="json")
    inactive = api_client.post(URL, {"email": "bob@example.com", "password": PASSWORD}, format="json")
    malformed = api_client.post(URL, {"email": "not an email", "password": PASSWORD}, format="json")

    for response in (unknown, wrong, inactive, malformed):
        assert response.status_code == 401
        assert response.json() == {"detail": "Invalid email or password."}
    assert TokenFamily.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [{}, {"email": "alice@example.com"}, {"password": PASSWORD}, {"email": 1, "password": {"a": 1}}],
)
def test_it_rejects_incomplete_bodies_with_400(api_client, body):
    response = api_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert TokenFamily.objects.count() == 0


def test_it_takes_only_strings_and_signs_nobody_in_otherwise(api_client, alice):
    response = api_client.post(
        URL, {"email": "alice@example.com", "password": PASSWORD, "device_id": 0}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"device_id": ["Not a valid string."]}
    assert TokenFamily.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.real_hasher
def test_a_long_password_counts_whole_not_just_its_first_72_bytes(api_client):
    password = "p4ss-" * 20  # 100 bytes: plain bcrypt would ignore everything after byte 72
    registered = api_client.post(
        "/api/auth/register", {"email": "carol@example.com", "password": password}, format="json"
    )

    full = api_client.post(URL, {"email": "carol@example.com", "password": password}, format="json")
    prefix = api_client.post(URL, {"email": "carol@example.com", "password": password[:72]}, format="json")

    assert (registered.status_code, full.status_code, prefix.status_code) == (201, 200, 401)
