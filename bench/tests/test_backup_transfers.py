"""The backup transfers' client (bench/backup_client.py) does what the app's mobile client does:
its tus upload in several PATCHes becomes the user's backup of those bytes, its download
checks them, its concurrent uploads all land; and the limit writes the same bytes."""

import hashlib

import pytest

from backups.models import UserBackup
from bench import backup_client
from bench.tests.test_baselines import baseline_env
from testing import servers
from testing.helpers import postgres_only

SIZE = 100 * 1024 + 17
PIECE = 40 * 1024


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_client_uploads_in_pieces_downloads_and_uploads_concurrently(alice, bob, tokens_for):
    alice_token, bob_token = (tokens_for(user)["access"] for user in (alice, bob))
    with servers.gunicorn(baseline_env()) as server:
        sent = backup_client.upload(server.port, alice_token, SIZE, piece_bytes=PIECE)
        received = backup_client.download(server.port, alice_token, sent["backup_id"], SIZE)
        together = backup_client.concurrent(server.port, [alice_token, bob_token], SIZE, piece_bytes=PIECE)

    assert (sent["ok"], sent["patches"], sent["statuses"]) == (True, 3, {"201": 1, "204": 3})
    assert (received["ok"], received["received"]) == (True, SIZE)
    assert (together["completed"], together["errors"]) == (2, [])
    backups = UserBackup.objects.filter(pk__in=together["backup_ids"])
    assert sorted(backup.user_id for backup in backups) == sorted([alice.pk, bob.pk])
    assert {(b.data_size, b.checksum) for b in backups} == {(SIZE, backup_client.checksum(SIZE))}


def test_the_limit_writes_and_reads_the_same_bytes(tmp_path):
    store = backup_client.FolderStore(str(tmp_path))
    store.write("payload", SIZE)

    assert hashlib.sha256((tmp_path / "payload").read_bytes()).hexdigest() == backup_client.checksum(SIZE)
    assert store.read("payload") == SIZE
