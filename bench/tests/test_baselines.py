"""The benchmark's baselines start and do the app's work: a token the app minted passes
their JWT check and token-family query, the device they return is the app's row, and the
report they store lands in it."""

import os
import shutil

import pytest
from django.conf import settings
from django.db import connection

from sync.models import UserSyncStatus
from testing import servers
from testing.helpers import http, postgres_only
from testing.servers import PROJECT

PEER = PROJECT / "bench" / "peers" / "express"


def baseline_env() -> dict:
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return {
        **os.environ,
        "WEB_CONCURRENCY": "1",
        "JWT_SECRET": settings.JWT_SECRET,
        "DATABASE_URL": f"postgresql://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
    }


def floor():
    return servers.gunicorn(baseline_env(), app="bench.floor:application")


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
