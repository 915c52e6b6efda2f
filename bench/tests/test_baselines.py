"""The benchmark's baselines start and do the app's work: a token the app minted passes
their JWT check and token-family query, the device they return is the app's row, and the
report they store lands in it; the backup they store is a payload in the app's storage under
its row's key, and they read the app's. They answer the benchmark's app configuration as the
app does."""

import hashlib
import json
import os
import shutil

import pytest
from django.conf import settings
from django.db import connection

from ai_scripts import app_config, config_services
from backups import services, storage
from backups.models import UserBackup
from bench.run import APP_CLIENT
from sync.models import UserSyncStatus
from testing import servers
from testing.helpers import http, postgres_only
from testing.servers import PROJECT

PEER = PROJECT / "bench" / "peers" / "express"
BENCH_APP_CONFIG = PROJECT / "bench" / "app_config.json"  # what bench/seed.py publishes


def baseline_env() -> dict:
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return {
        **os.environ,
        "WEB_CONCURRENCY": "1",
        "JWT_SECRET": settings.JWT_SECRET,
        "DATABASE_URL": f"postgresql://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        # The test's own folder (conftest.py's separate_backup_storage).
        "BACKUP_STORAGE_DIR": settings.STORAGES["backups"]["OPTIONS"]["location"],
        "BACKUP_KEEP": "1",
    }


def floor():
    return servers.gunicorn(baseline_env(), app="bench.floor:application")


def sha256(data: str) -> str:
    return hashlib.sha256(data.encode()).hexdigest()


def peer():
    if shutil.which("node") is None or not (PEER / "node_modules").is_dir():
        pytest.skip("the peer needs node and `npm ci` in bench/peers/express (make bench does both)")
    return servers.serve(["node", str(PEER / "server.js")], env=baseline_env(), name="the peer")


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("start", [floor, peer], ids=["floor", "peer"])
def test_the_baseline_reads_and_stores_a_device_with_an_app_token(start, alice, tokens_for):
    UserSyncStatus.objects.create(user=alice, device_id="phone", sync_version=7, data_hash="abc")
    bearer = {"Authorization": f"Bearer {tokens_for(alice)['access']}"}
    with start() as server:
        base_url = server.base_url
        assert http("GET", f"{base_url}/health")[0] == 200
        status, _, body = http("GET", f"{base_url}/api/sync/status/phone", headers=bearer)
        assert status == 200
        assert (body["device_id"], body["sync_version"], body["data_hash"]) == ("phone", 7, "abc")
        assert (
            http("GET", f"{base_url}/api/sync/status/phone", headers={"Authorization": "Bearer x"})[0] == 401
        )
        report = {"device_id": "phone", "sync_version": 8, "data_hash": "def"}
        status, _, body = http("POST", f"{base_url}/api/sync/status", body=report, headers=bearer)
        assert (status, body["sync_version"], body["data_hash"]) == (200, 8, "def")
        stale = {**report, "sync_version": 7}
        assert http("POST", f"{base_url}/api/sync/status", body=stale, headers=bearer)[0] == 409
    device = UserSyncStatus.objects.get(user=alice)
    assert (device.sync_version, device.data_hash, device.is_active) == (8, "def", True)


@postgres_only
@pytest.mark.skipif(bool(settings.BACKUP_S3_BUCKET), reason="the baselines keep payloads in a folder only")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("start", [floor, peer], ids=["floor", "peer"])
def test_the_baseline_stores_and_reads_backups_in_the_apps_storage(start, alice, tokens_for):
    earlier, _ = services.backup_create(user=alice, encrypted_data="the app's", checksum=sha256("the app's"))
    bearer = {"Authorization": f"Bearer {tokens_for(alice)['access']}"}
    upload = {"encrypted_data": "the baseline's", "checksum": sha256("the baseline's")}
    with start() as server:
        status, _, body = http("GET", f"{server.base_url}/api/sync/backup/latest", headers=bearer)
        assert (status, body["id"], body["encrypted_data"]) == (200, str(earlier.pk), "the app's")
        status, _, body = http("POST", f"{server.base_url}/api/sync/backup", body=upload, headers=bearer)
        assert (status, body["data_size"]) == (201, len("the baseline's"))
        status, _, latest = http("GET", f"{server.base_url}/api/sync/backup/latest", headers=bearer)
        assert (status, latest["id"], latest["encrypted_data"]) == (200, body["id"], "the baseline's")
    backup = UserBackup.objects.get(user=alice)  # BACKUP_KEEP=1 pruned the app's
    assert (str(backup.pk), backup.storage_key) == (body["id"], storage.backup_key(alice.pk, backup.pk))
    assert storage.payload_read_all(backup.storage_key) == b"the baseline's"
    assert sorted(storage.stored_keys("backups/")) == [backup.storage_key]


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("start", [floor, peer], ids=["floor", "peer"])
def test_the_baseline_answers_the_benchmarks_app_config_as_the_app_does(start, api_client):
    config_services.config_import(document=json.loads(BENCH_APP_CONFIG.read_text()))
    client = app_config.Client.from_headers(
        platform=APP_CLIENT["X-Platform"], app_version=APP_CLIENT["X-App-Version"]
    )
    # The baselines answer the defaults: the benchmark's request must match no rule.
    assert {rule for _, rule in config_services.config_live().resolve(client).values()} == {None}
    app = api_client.get("/api/config/app-config", headers=APP_CLIENT)
    assert app.status_code == 200
    with start() as server:
        status, headers, body = http("GET", f"{server.base_url}/api/config/app-config", headers=APP_CLIENT)
    assert (status, body) == (200, app.json())
    assert list(body["parameters"]) == list(app.json()["parameters"])
    assert len(body["parameters"]) == 20
    assert (headers["Cache-Control"], bool(headers["ETag"])) == ("private, no-cache", True)
