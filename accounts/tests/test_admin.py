import pytest

from accounts.models import User
from backups import services
from backups.tests.helpers import sha256, stored_keys
from testing.helpers import PASSWORD


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


def signed_in(client, token):
    return client.get("/api/auth/profile", HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def test_reactivating_a_deactivated_user_does_not_revive_their_tokens(staff_client, alice, bob, tokens_for):
    old, bobs = tokens_for(alice), tokens_for(bob)
    staff_client.post("/admin/accounts/user/", {"action": "deactivate", "_selected_action": [alice.pk]})
    User.objects.filter(pk=alice.pk).update(is_active=True)

    assert signed_in(staff_client, old["access"]) == 401
    refresh = staff_client.post(
        "/api/auth/refresh", {"refresh": old["refresh"]}, content_type="application/json"
    )
    assert refresh.status_code == 401
    assert signed_in(staff_client, bobs["access"]) == 200


def test_unticking_active_in_the_change_form_revokes_the_users_tokens(staff_client, alice, tokens_for):
    old = tokens_for(alice)
    page = staff_client.get(f"/admin/accounts/user/{alice.pk}/change/")
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "is_active"}

    response = staff_client.post(f"/admin/accounts/user/{alice.pk}/change/", {**data, "email": alice.email})

    assert response.status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active
    User.objects.filter(pk=alice.pk).update(is_active=True)
    assert signed_in(staff_client, old["access"]) == 401
    assert alice.token_families.get().revoked_at is not None


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


def make_backup(user, data):
    return services.backup_create(user=user, encrypted_data=data, checksum=sha256(data))[0]


def test_the_users_list_shows_each_accounts_backup_storage(staff_client, alice, bob):
    make_backup(alice, "a" * 1536)
    make_backup(alice, "b" * 1024)

    response = staff_client.get("/admin/accounts/user/")

    assert response.status_code == 200
    rows = {user.email: user.backup_bytes for user in response.context["cl"].result_list}
    assert rows["alice@example.com"] == 2560
    assert rows["bob@example.com"] is None
    assert b"2.5\xc2\xa0KB" in response.content


def test_staff_deleting_a_user_deletes_their_backup_payloads(
    staff_client, alice, bob, django_capture_on_commit_callbacks
):
    make_backup(alice, "alice's")
    bobs = make_backup(bob, "bob's")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/admin/accounts/user/{alice.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert stored_keys() == [bobs.storage_key]
