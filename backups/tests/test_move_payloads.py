"""Moving the first version's payloads (a TEXT column) into storage: the command, then the
migration that drops the column. Nothing is lost on the way, whatever stops in between."""

import hashlib
from datetime import UTC, datetime
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from backups import storage
from backups.models import UserBackup

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("backups", "0001_initial")]
WITH_COLUMN = [("backups", "0002_payloads_in_storage")]
AFTER = [("backups", "0003_drop_payload_column")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets[0]).apps


@pytest.fixture
def old_backups(alice, bob):
    """Three backups stored by the first version, payloads in the column."""
    apps = migrate(BEFORE)
    Backup = apps.get_model("backups", "UserBackup")
    payloads = {"a" * 10: alice, "é" * 5: alice, "bob's": bob}
    ids = {}
    for n, (text, user) in enumerate(payloads.items()):
        backup = Backup.objects.create(
            user_id=user.pk,
            encrypted_data=text,
            backup_date=datetime(2026, 1, 1 + n, tzinfo=UTC),
            data_size=len(text.encode()),
            checksum=hashlib.sha256(text.encode()).hexdigest(),
        )
        ids[backup.pk] = text
    yield ids
    migrate(AFTER)


def stored_texts() -> dict:
    return {b.pk: storage.payload_read_all(b.storage_key).decode() for b in UserBackup.objects.all()}


def test_the_command_moves_every_payload_and_empties_the_column(old_backups, capsys):
    migrate(WITH_COLUMN)

    call_command("backups_move_payloads")

    out = capsys.readouterr().out
    assert "Moved 3 of 3 payload(s)." in out
    assert "Done: 3 payload(s) moved to storage." in out
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM user_backups WHERE encrypted_data IS NOT NULL OR storage_key = ''"
        )
        assert cursor.fetchone() == (0,)
    migrate(AFTER)
    assert stored_texts() == old_backups


def test_a_move_that_stops_half_way_goes_on_where_it_stopped(old_backups):
    migrate(WITH_COLUMN)
    real_save = storage.payload_save
    calls = []

    def failing_second_save(key, data):
        calls.append(key)
        if len(calls) == 2:
            raise OSError("disk went away")
        real_save(key, data)

    with (
        mock.patch.object(storage, "payload_save", failing_second_save),
        pytest.raises(OSError, match="disk went away"),
    ):
        call_command("backups_move_payloads")
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM user_backups WHERE storage_key = ''")
        assert cursor.fetchone() == (2,)

    call_command("backups_move_payloads")
    call_command("backups_move_payloads")  # a third run finds nothing to do

    migrate(AFTER)
    assert stored_texts() == old_backups


def test_the_migration_alone_moves_whatever_the_command_did_not(old_backups):
    migrate(AFTER)

    assert stored_texts() == old_backups
    assert sorted(storage.stored_keys("backups/")) == sorted(b.storage_key for b in UserBackup.objects.all())


def test_the_command_tells_what_to_do_before_and_after_the_move(old_backups, capsys):
    with pytest.raises(CommandError, match="migrate backups 0002"):
        call_command("backups_move_payloads")

    migrate(AFTER)
    call_command("backups_move_payloads")

    assert "Nothing to move" in capsys.readouterr().out


def test_a_payload_that_no_longer_matches_its_checksum_is_moved_and_reported(old_backups, capsys):
    migrate(WITH_COLUMN)
    damaged = next(iter(old_backups))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE user_backups SET encrypted_data = 'changed' WHERE id = %s", [damaged.hex])

    call_command("backups_move_payloads")

    assert "1 of them did not match their stored checksum" in capsys.readouterr().err
    migrate(AFTER)
    assert stored_texts()[damaged] == "changed"
