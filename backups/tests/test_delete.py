from backups.models import UserBackup
from backups.tests.helpers import URL, stored_keys
from testing.helpers import PASSWORD


def test_it_deletes_one_backup_and_its_payload(
    alice_client, alice, make_backup, django_capture_on_commit_callbacks
):
    doomed = make_backup(alice, "doomed")
    kept = make_backup(alice, "kept")

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.delete(f"{URL}/{doomed.id}")

    assert response.status_code == 204
    assert list(UserBackup.objects.values_list("id", flat=True)) == [kept.id]
    assert stored_keys() == [kept.storage_key]


def test_another_users_backup_is_404_and_stays(alice_client, bob, make_backup):
    backup = make_backup(bob, "bob's")

    response = alice_client.delete(f"{URL}/{backup.id}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert UserBackup.objects.filter(pk=backup.id, user=bob).exists()


def test_a_malformed_id_is_404(alice_client, alice, make_backup):
    make_backup(alice)

    response = alice_client.delete(f"{URL}/not-a-uuid")

    assert response.status_code == 404
    assert UserBackup.objects.count() == 1


def test_it_needs_a_token(api_client, alice, make_backup):
    backup = make_backup(alice)

    response = api_client.delete(f"{URL}/{backup.id}")

    assert response.status_code == 401
    assert UserBackup.objects.count() == 1


def test_deleting_the_account_deletes_its_backups_and_their_payloads(
    alice_client, alice, bob, make_backup, django_capture_on_commit_callbacks
):
    make_backup(alice, "one")
    make_backup(alice, "two")
    bobs = make_backup(bob, "bob's")

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.delete("/api/auth/profile", {"password": PASSWORD}, format="json")

    assert response.status_code == 204
    assert list(UserBackup.objects.values_list("id", flat=True)) == [bobs.id]
    assert stored_keys() == [bobs.storage_key]


def test_other_verbs_are_405(alice_client, alice, make_backup):
    backup = make_backup(alice)

    assert alice_client.put(f"{URL}/{backup.id}", {}, format="json").status_code == 405
    assert alice_client.patch(f"{URL}/{backup.id}", {}, format="json").status_code == 405
    assert alice_client.delete(URL).status_code == 405
    assert UserBackup.objects.count() == 1
