import pytest

from accounts.models import TokenFamily, User
from testing.helpers import PASSWORD

URL = "/api/auth/profile"
DELETE_URL = "/api/auth/profile/delete"


def post_delete(client, body=None):
    return client.post(DELETE_URL, body, format="json")


def delete_profile(client, body=None):
    return client.delete(URL, body, format="json")


# POST /api/auth/profile/delete is the documented route; DELETE /api/auth/profile (the body on
# a DELETE) still works the same for the apps that use it.
deletion_routes = pytest.mark.parametrize("delete_account", [post_delete, delete_profile])


def test_it_shows_the_signed_in_user(alice_client, alice):
    response = alice_client.get(URL)

    assert response.status_code == 200
    assert response.json() == {
        "id": str(alice.id),
        "email": "alice@example.com",
        "created_at": alice.created_at.isoformat().replace("+00:00", "Z"),
        "last_sync": None,
        "device_count": 0,
    }


def test_it_needs_a_token(api_client, alice):
    response = api_client.get(URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_it_rejects_a_garbage_token(api_client, alice):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer abc.def.ghi")

    assert api_client.get(URL).status_code == 401


@deletion_routes
def test_it_deletes_the_account_with_the_password(alice_client, alice, bob, tokens_for, delete_account):
    tokens_for(bob)

    response = delete_account(alice_client, {"password": PASSWORD})

    assert response.status_code == 204
    assert list(User.objects.values_list("email", flat=True)) == ["bob@example.com"]
    assert list(TokenFamily.objects.values_list("user", flat=True)) == [bob.id]
    assert alice_client.get(URL).status_code == 401


@deletion_routes
def test_it_keeps_the_account_when_the_password_is_wrong(alice_client, alice, delete_account):
    response = delete_account(alice_client, {"password": "not it"})

    assert response.status_code == 400
    assert response.json() == {"password": ["The password is wrong."]}
    assert User.objects.filter(pk=alice.pk).exists()


@deletion_routes
def test_it_needs_the_password_to_delete(alice_client, alice, delete_account):
    response = delete_account(alice_client)

    assert response.status_code == 400
    assert response.json() == {"password": ["This field is required."]}
    assert User.objects.filter(pk=alice.pk).exists()


def test_it_refuses_other_verbs(alice_client):
    assert alice_client.put(URL, {}, format="json").status_code == 405
    assert alice_client.get(DELETE_URL).status_code == 405


@deletion_routes
def test_deleting_needs_a_token(api_client, alice, delete_account):
    response = delete_account(api_client, {"password": PASSWORD})

    assert response.status_code == 401
    assert User.objects.filter(pk=alice.pk).exists()


@deletion_routes
def test_deleting_refuses_a_password_that_is_not_a_string(alice_client, alice, delete_account):
    response = delete_account(alice_client, {"password": 12345678})

    assert response.status_code == 400
    assert User.objects.filter(pk=alice.pk).exists()
