from django.db import connection
from django.test.utils import CaptureQueriesContext

from backups.models import UserBackup
from backups.tests.helpers import URL, selects_payload
from testing.helpers import PASSWORD


def test_it_deletes_one_backup(alice_client, alice, make_backup):
    doomed = make_backup(alice, "doomed")
    kept = make_backup(alice, "kept")

    with CaptureQueriesContext(connection) as queries:
        response = alice_client.delete(f"{URL}/{doomed.id}")

    assert response.status_code == 204
    assert list(UserBackup.objects.values_list("id", flat=True)) == [kept.id]
    assert not selects_payload(queries.captured_queries)


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


def test_deleting_the_account_deletes_its_backups_without_reading_them(alice_client, alice, bob, make_backup):
    make_backup(alice, "one")
    make_backup(alice, "two")
    bobs = make_backup(bob, "bob's")

    with CaptureQueriesContext(connection) as queries:
        response = alice_client.delete("/api/auth/profile", {"password": PASSWORD}, format="json")

    assert response.status_code == 204
    assert list(UserBackup.objects.values_list("id", flat=True)) == [bobs.id]
    assert not selects_payload(queries.captured_queries)


def test_other_verbs_are_405(alice_client, alice, make_backup):
    backup = make_backup(alice)

    assert alice_client.put(f"{URL}/{backup.id}", {}, format="json").status_code == 405
    assert alice_client.patch(f"{URL}/{backup.id}", {}, format="json").status_code == 405
    assert alice_client.delete(URL).status_code == 405
    assert UserBackup.objects.count() == 1
