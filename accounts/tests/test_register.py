import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import TokenFamily, User

URL = "/api/auth/register"
PASSWORD = "a sturdy passphrase 42"


@pytest.mark.django_db
def test_it_creates_the_user_and_signs_them_in(api_client):
    response = api_client.post(URL, {"email": "Carol@Example.com", "password": PASSWORD}, format="json")

    assert response.status_code == 201
    user = User.objects.get()
    assert response.data["user"] == {
        "id": str(user.id),
        "email": "carol@example.com",
        "created_at": user.created_at.isoformat().replace("+00:00", "Z"),
        "last_sync": None,
        "device_count": 0,
    }
    assert user.email == "carol@example.com"
    assert user.check_password(PASSWORD)
    assert AccessToken(response.data["access"])["user_id"] == str(user.id)
    assert TokenFamily.objects.filter(user=user, revoked_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_it_binds_the_session_to_a_device(api_client):
    body = {"email": "carol@example.com", "password": PASSWORD, "device_id": "phone-1"}

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 201
    assert TokenFamily.objects.get().device_id == "phone-1"


def test_it_answers_409_for_a_taken_email_whatever_its_case(api_client, alice):
    response = api_client.post(URL, {"email": "ALICE@example.COM", "password": PASSWORD}, format="json")

    assert response.status_code == 409
    assert response.data == {"detail": "This email is already registered."}
    assert User.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "", "password": PASSWORD}, "email"),
        ({"password": PASSWORD}, "email"),
        ({"email": "carol@example.com"}, "password"),
        ({"email": "carol@example.com", "password": "short1"}, "password"),
        ({"email": "carol@example.com", "password": "12345678901"}, "password"),
        ({"email": "carol@example.com", "password": "password123"}, "password"),
        ({"email": "carol@example.com", "password": "carol@example.com"}, "password"),
        ({"email": ["carol@example.com"], "password": PASSWORD}, "email"),
        ({"email": "carol@example.com", "password": "x" * 1025}, "password"),
        ({"email": "carol@example.com", "password": PASSWORD, "device_id": 7}, "device_id"),
        ({"email": "carol@example.com", "password": 12345.678901}, "password"),
        ({"email": "carol@example.com", "password": " " * 12}, "password"),
        ({"email": "carol@example.com", "password": "\t \u3000" * 4}, "password"),
        ({"email": "carol@example.com", "password": PASSWORD, "device_id": " padded "}, "device_id"),
    ],
)
def test_it_rejects_bad_input_and_stores_nothing(api_client, body, field):
    response = api_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert list(response.data) == [field]
    assert User.objects.count() == 0
    assert TokenFamily.objects.count() == 0


@pytest.mark.django_db
def test_it_ignores_privilege_fields_in_the_body(api_client):
    body = {"email": "carol@example.com", "password": PASSWORD, "is_staff": True, "device_count": 9}

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 201
    user = User.objects.get()
    assert (user.is_staff, user.is_superuser, user.device_count) == (False, False, 0)


@pytest.mark.django_db
def test_it_needs_no_token_and_ignores_a_stale_one(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    response = api_client.post(URL, {"email": "carol@example.com", "password": PASSWORD}, format="json")

    assert response.status_code == 201
