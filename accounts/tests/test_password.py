import pytest
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.exceptions import ValidationError

from accounts.models import TokenFamily
from testing.helpers import PASSWORD

URL = "/api/auth/password"
NEW_PASSWORD = "an entirely new passphrase"


@pytest.fixture
def pair(alice, tokens_for):
    return tokens_for(alice, device_id="phone")


@pytest.fixture
def signed_in(api_client, pair):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    return api_client


def test_it_changes_the_password_and_kills_earlier_tokens(signed_in, pair, alice, tokens_for):
    other = tokens_for(alice)

    response = signed_in.post(URL, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json")

    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    live = TokenFamily.objects.get(user=alice, revoked_at__isnull=True)
    assert live.device_id == "phone"
    for token in (pair["access"], other["access"]):
        signed_in.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert signed_in.get("/api/auth/profile").status_code == 401
    for token in (pair["refresh"], other["refresh"]):
        assert signed_in.post("/api/auth/refresh", {"refresh": token}, format="json").status_code == 401
    signed_in.credentials(HTTP_AUTHORIZATION=f"Bearer {response.data['access']}")
    assert signed_in.get("/api/auth/profile").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"old_password": "wrong", "new_password": NEW_PASSWORD}, "old_password"),
        ({"old_password": PASSWORD, "new_password": "123"}, "new_password"),
        ({"old_password": PASSWORD, "new_password": "alice@example.com"}, "new_password"),
        ({"old_password": PASSWORD}, "new_password"),
    ],
)
def test_it_keeps_the_password_and_tokens_on_bad_input(signed_in, alice, body, field):
    response = signed_in.post(URL, body, format="json")

    assert response.status_code == 400
    assert list(response.data) == [field]
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    assert TokenFamily.objects.get().revoked_at is None


def test_it_needs_a_token(api_client, alice):
    body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}

    assert api_client.post(URL, body, format="json").status_code == 401


def test_a_whitespace_only_password_is_refused_wherever_passwords_are_set(alice):
    with pytest.raises(ValidationError, match="only whitespace"):
        password_validation.validate_password(" " * 12, user=alice)
    form = AdminPasswordChangeForm(alice, {"password1": " " * 12, "password2": " " * 12})
    assert not form.is_valid()
