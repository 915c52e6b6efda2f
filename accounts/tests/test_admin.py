import pytest

from accounts.models import User
from persona.testing import PASSWORD


@pytest.fixture
def staff_client(client, db):
    staff = User.objects.create_superuser(email="staff@example.com", password=PASSWORD)
    client.force_login(staff)
    return client


def test_staff_can_search_users_by_email(staff_client, alice, bob):
    response = staff_client.get("/admin/accounts/user/", {"q": "alice"})

    assert response.status_code == 200
    assert b"alice@example.com" in response.content
    assert b"bob@example.com" not in response.content


def test_staff_can_deactivate_users(staff_client, alice, bob, tokens_for):
    access = tokens_for(alice)["access"]

    response = staff_client.post(
        "/admin/accounts/user/", {"action": "deactivate", "_selected_action": [alice.pk]}, follow=True
    )

    assert response.status_code == 200
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.is_active, bob.is_active) == (False, True)
    profile = staff_client.get("/api/auth/profile", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert profile.status_code == 401


def test_sync_counters_are_read_only(staff_client, alice):
    response = staff_client.get(f"/admin/accounts/user/{alice.pk}/change/")

    assert response.status_code == 200
    form_fields = response.context["adminform"].form.fields
    assert "last_sync" not in form_fields
    assert "device_count" not in form_fields
    assert b"device_count" in response.content


def test_staff_can_add_a_user_by_email(staff_client):
    response = staff_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "Dave@Example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "usable_password": "true",
        },
    )

    assert response.status_code == 302
    assert User.objects.get(email="dave@example.com").check_password(PASSWORD)


def test_non_staff_cannot_enter_the_admin(client, alice):
    client.force_login(alice)

    response = client.get("/admin/accounts/user/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
