from uuid import UUID

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from backups import services
from backups.models import UserBackup
from backups.tests.helpers import URL, sha256, upload_body
from testing.helpers import run_concurrently


def post(client, body, key):
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retry_returns_the_first_answer_and_stores_nothing_new(alice_client):
    body = upload_body("payload", device_id="phone", sync_version=4)
    first = post(alice_client, body, "upload-1")

    retry = post(alice_client, body, "upload-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert list(UserBackup.objects.values_list("id", "idempotency_key")) == [
        (UUID(first.json()["id"]), "upload-1")
    ]


def test_a_retry_may_spell_the_checksum_in_upper_case(alice_client):
    body = upload_body("payload")
    first = post(alice_client, body, "upload-1")

    retry = post(alice_client, {**body, "checksum": body["checksum"].upper()}, "upload-1")

    assert retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert UserBackup.objects.count() == 1


@pytest.mark.parametrize(
    "changed",
    [
        upload_body("another payload"),
        upload_body("payload", device_id="tablet"),
        upload_body("payload", sync_version=5),
    ],
)
def test_the_same_key_for_a_different_upload_is_409(alice_client, changed):
    first = post(alice_client, upload_body("payload"), "upload-1")

    response = post(alice_client, changed, "upload-1")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This Idempotency-Key was already used for a different upload.",
        "code": "idempotency_key_reused",
    }
    assert list(UserBackup.objects.values_list("id", flat=True)) == [UUID(first.json()["id"])]


def test_a_new_key_stores_a_new_backup(alice_client):
    post(alice_client, upload_body("payload"), "upload-1")

    response = post(alice_client, upload_body("payload"), "upload-2")

    assert response.status_code == 201
    assert UserBackup.objects.count() == 2


def test_keys_are_per_user(alice_client, bob_client, alice, bob):
    mine = post(alice_client, upload_body("payload"), "upload-1")

    theirs = post(bob_client, upload_body("payload"), "upload-1")

    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]
    assert UserBackup.objects.filter(user=alice).count() == 1
    assert UserBackup.objects.filter(user=bob).count() == 1


def test_a_retry_of_a_refused_upload_is_checked_again(alice_client):
    wrong = {"encrypted_data": "payload", "checksum": sha256("other")}
    assert post(alice_client, wrong, "upload-1").status_code == 400

    response = post(alice_client, upload_body("payload"), "upload-1")

    assert response.status_code == 201
    assert UserBackup.objects.get().idempotency_key == "upload-1"


def test_an_overlong_key_is_400(alice_client):
    response = post(alice_client, upload_body("payload"), "k" * 256)

    assert response.status_code == 400
    assert response.json() == {"Idempotency-Key": ["Must be 1 to 255 characters long."]}
    assert not UserBackup.objects.exists()


def test_the_database_refuses_a_second_backup_under_one_key(alice, bob, make_backup):
    make_backup(alice, idempotency_key="k")
    make_backup(bob, idempotency_key="k")
    make_backup(alice)
    make_backup(alice)

    with pytest.raises(IntegrityError), transaction.atomic():
        UserBackup.objects.create(
            user=alice,
            storage_key="backups/x",
            backup_date=timezone.now(),
            data_size=1,
            checksum=sha256("x"),
            idempotency_key="k",
        )
    assert UserBackup.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_racing_retries_store_one_backup_and_get_the_same_id(alice):
    def upload():
        backup, _ = services.backup_create(
            user=alice, encrypted_data="payload", checksum=sha256("payload"), idempotency_key="race"
        )
        return backup.id

    ids = run_concurrently(upload, upload)

    assert ids[0] == ids[1]
    assert list(UserBackup.objects.values_list("id", flat=True)) == [ids[0]]
