"""`manage.py backups_orphans`: stored bytes nothing refers to, listed (dry run) or deleted."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backups import storage
from backups.models import BackupUpload
from backups.tests.helpers import append, create_upload, stored_keys

STRAY = "backups/00000000-0000-0000-0000-000000000000/11111111-1111-1111-1111-111111111111"


@pytest.fixture
def scene(alice, alice_client, make_backup):
    """A backup, an unfinished upload with bytes, and a payload whose row never committed."""
    backup = make_backup(alice, "kept")
    location = create_upload(alice_client, b"x" * 100)["Location"]
    append(alice_client, location, b"x" * 10, 0)
    storage.payload_save(STRAY, b"left by a crash")
    return backup


def run(*args, older_than_hours="0") -> str:
    out = StringIO()
    call_command("backups_orphans", "--older-than-hours", older_than_hours, *args, stdout=out)
    return out.getvalue()


def test_a_dry_run_lists_orphans_and_deletes_nothing(scene):
    out = run()

    assert out.splitlines() == [
        f"Orphan: {STRAY}",
        "Found 1 orphaned object(s); run with --delete to delete them.",
    ]
    assert STRAY in stored_keys()


def test_delete_removes_only_the_orphans(scene):
    uploads_before = sorted(storage.stored_keys("uploads/"))

    out = run("--delete")

    assert out.splitlines()[-1] == "Deleted 1 orphaned object(s)."
    assert stored_keys() == [scene.storage_key]
    assert sorted(storage.stored_keys("uploads/")) == uploads_before


def test_the_bytes_of_an_upload_that_is_gone_are_orphans(scene):
    BackupUpload.objects.all().delete()  # as if the row went and its bytes' deletion failed

    out = run("--delete")

    assert list(storage.stored_keys("uploads/")) == []
    assert list(storage.multipart_uploads()) == []
    assert f"Deleted: {STRAY}" in out.splitlines()
    assert stored_keys() == [scene.storage_key]


def test_objects_newer_than_the_grace_period_are_left_alone(scene):
    out = run(older_than_hours="1")

    assert out.splitlines() == ["Found 0 orphaned object(s); run with --delete to delete them."]


def test_a_negative_grace_period_is_refused():
    with pytest.raises(CommandError, match="must not be negative"):
        call_command("backups_orphans", "--older-than-hours", "-1")
