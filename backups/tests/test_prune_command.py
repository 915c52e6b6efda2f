from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from backups.models import UserBackup


def prune(*args) -> str:
    out = StringIO()
    call_command("prune_backups", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def crowded(alice, bob, make_backup, settings):
    """Alice has five backups and Bob two, stored while BACKUP_KEEP was 10."""
    settings.BACKUP_KEEP = 10
    alices = [make_backup(alice, f"alice {n}").id for n in range(5)]
    bobs = [make_backup(bob, f"bob {n}").id for n in range(2)]
    return alices, bobs


def test_it_keeps_the_newest_n_of_every_user(crowded):
    alices, bobs = crowded

    output = prune("--keep", "2")

    assert output == "Deleted 3 backup(s) of 1 user(s), keeping the newest 2 each.\n"
    assert set(UserBackup.objects.values_list("id", flat=True)) == {*alices[-2:], *bobs}


def test_it_defaults_to_backup_keep(crowded, settings):
    alices, bobs = crowded
    settings.BACKUP_KEEP = 1

    output = prune()

    assert output == "Deleted 5 backup(s) of 2 user(s), keeping the newest 1 each.\n"
    assert set(UserBackup.objects.values_list("id", flat=True)) == {alices[-1], bobs[-1]}


def test_a_dry_run_only_reports(crowded):
    output = prune("--keep", "1", "--dry-run")

    assert output == "Would delete 5 backup(s) of 2 user(s), keeping the newest 1 each.\n"
    assert UserBackup.objects.count() == 7


def test_it_refuses_to_keep_nothing(crowded):
    with pytest.raises(CommandError, match="--keep must be at least 1"):
        prune("--keep", "0")

    assert UserBackup.objects.count() == 7


def test_nothing_to_prune(crowded):
    assert prune("--keep", "10") == "Deleted 0 backup(s) of 0 user(s), keeping the newest 10 each.\n"
    assert UserBackup.objects.count() == 7
