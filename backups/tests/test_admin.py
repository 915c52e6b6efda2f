import pytest
from django.utils import timezone

from accounts.models import User
from backups import storage
from backups.models import BackupUpload, UserBackup
from backups.tests.helpers import UPLOADS, append, create_upload, stored_keys, upload
from testing.helpers import PASSWORD

SECRET = "ciphertext-that-staff-never-see"


@pytest.fixture
def staff_client(client, db):
    staff = User.objects.create_superuser(email="staff@example.com", password=PASSWORD)
    client.force_login(staff)
    return client


def test_the_list_shows_metadata_and_never_the_payload(staff_client, alice, make_backup):
    backup = make_backup(alice, SECRET, device_id="phone-1", sync_version=12)

    response = staff_client.get("/admin/backups/userbackup/")

    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [backup.pk]
    shown = [b"alice@example.com", backup.checksum.encode(), b"phone-1", b'class="field-sync_version">12<']
    assert all(value in response.content for value in shown)
    assert SECRET.encode() not in response.content


def test_one_backup_shows_metadata_read_only_and_never_its_payload(staff_client, alice, make_backup):
    backup = make_backup(alice, SECRET, device_id="phone-1")

    response = staff_client.get(f"/admin/backups/userbackup/{backup.id}/change/")

    assert response.status_code == 200
    assert backup.checksum.encode() in response.content
    assert b"phone-1" in response.content
    assert SECRET.encode() not in response.content
    assert not response.context["adminform"].form.fields


def test_staff_search_backups_by_email(staff_client, alice, bob, make_backup):
    make_backup(alice, device_id="alices-phone")
    make_backup(bob, device_id="bobs-phone")

    response = staff_client.get("/admin/backups/userbackup/", {"q": "bob@"})

    assert response.status_code == 200
    assert b"bobs-phone" in response.content
    assert b"alices-phone" not in response.content


def test_staff_cannot_add_or_edit_backups(staff_client, alice, make_backup):
    backup = make_backup(alice, "original", device_id="phone-1")

    assert staff_client.get("/admin/backups/userbackup/add/").status_code == 403
    response = staff_client.post(f"/admin/backups/userbackup/{backup.id}/change/", {"device_id": "forged"})

    assert response.status_code == 403
    assert UserBackup.objects.get().device_id == "phone-1"


def test_staff_can_delete_a_backup_and_its_payload(
    staff_client, alice, make_backup, django_capture_on_commit_callbacks
):
    backup = make_backup(alice, SECRET)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/admin/backups/userbackup/{backup.id}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not UserBackup.objects.exists()
    assert stored_keys() == []


def test_the_uploads_list_shows_progress_and_state(staff_client, alice_client):
    create_upload(alice_client, b"x" * 3000)
    upload(alice_client, b"done")

    response = staff_client.get("/admin/backups/backupupload/")

    assert response.status_code == 200
    assert b"0\xc2\xa0bytes of 2.9\xc2\xa0KB" in response.content
    assert b">unfinished<" in response.content
    assert b">complete<" in response.content


def test_staff_delete_every_expired_upload_and_its_bytes(staff_client, alice_client):
    expired = create_upload(alice_client, b"x" * 3000)["Location"].rsplit("/", 1)[1]
    append(alice_client, f"{UPLOADS}/{expired}", b"x" * 10, 0)
    live = create_upload(alice_client, b"live")["Location"].rsplit("/", 1)[1]
    BackupUpload.objects.filter(pk=expired).update(expires_at=timezone.now())

    response = staff_client.post(
        "/admin/backups/backupupload/", {"action": "delete_expired", "_selected_action": [live]}, follow=True
    )

    assert response.status_code == 200
    assert b"Deleted 1 expired upload(s)." in response.content
    assert [str(pk) for pk in BackupUpload.objects.values_list("pk", flat=True)] == [live]
    assert not [key for key in storage.stored_keys("uploads/") if expired in key]
