"""The abuse suite: what an attacker tries, and that it fails.

Each numbered case of the security issue is a test. The ones that belong to one feature
live with it; this module holds the rest and is the index:

 1 brute force from one IP            accounts/tests/test_rate_limits.py (brute_force...)
 2 one account from rotating IPs      accounts/tests/test_rate_limits.py (rotating_ips)
 3 spoofed X-Forwarded-For            accounts/tests/test_rate_limits.py (spoofed...)
 4 unknown email vs wrong password    accounts/tests/test_login.py (same_401...)
 5 100-byte password, 72-byte prefix  accounts/tests/test_login.py (long_password...)
 6 alg: none                          here, and accounts/tests/test_verify.py
 7 edited payload or foreign key      here, and accounts/tests/test_verify.py
 8 expired access token               here, and accounts/tests/test_verify.py
 9 token types swapped                accounts/tests/test_refresh.py
10 replay after the grace window      accounts/tests/test_refresh.py
11 concurrent refreshes (PostgreSQL)  accounts/tests/test_refresh_race.py
12 deactivated user                   here
13 password change                    accounts/tests/test_password.py
14 deleted user's refresh             accounts/tests/test_refresh.py
15 logout                             accounts/tests/test_logout.py
16 another user's backup              here, and backups/tests/test_reads.py, test_delete.py
17 ?user=<other> on lists             here
18 privileged fields in bodies        here, and accounts/tests/test_register.py
19 non-staff and scripts / admin      here
20 oversized backups                  backups/tests/test_size_limit.py (live gunicorn)
21 checksum mismatch                  backups/tests/test_upload.py
22 malformed, non-JSON, deep JSON     persona/tests/test_errors.py
23 page_size=1000000                  here
24 foreign Host, foreign Origin       persona/tests/test_security_headers.py
25 security headers, JSON 404         persona/tests/test_security_headers.py
26 Redis down, database down          accounts/tests/test_rate_limits.py,
                                      persona/tests/test_database_outage.py
27 logout-all                         accounts/tests/test_logout.py
"""

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.tests import tokens as forge
from ai_scripts.models import AIScript
from backups.models import UserBackup
from backups.tests.helpers import stored, upload_body
from persona.pagination import CappedPagination
from sync.models import UserSyncStatus

PROFILE = "/api/auth/profile"


def bearer(client, token):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(PROFILE).status_code


@pytest.mark.parametrize(
    "forged",
    [
        forge.unsigned,
        lambda token: forge.signed_with(token, "an-attackers-own-key-of-a-decent-length"),
        lambda token: forge.with_claims(token, user_id="00000000-0000-4000-8000-000000000000"),
        forge.expired_access,
    ],
    ids=["6-alg-none", "7-foreign-key", "7-edited-payload", "8-expired"],
)
def test_forged_or_expired_access_tokens_are_401(api_client, alice, bob, tokens_for, forged):
    token = tokens_for(alice)["access"]

    assert bearer(api_client, forged(token)) == 401


def test_12_a_deactivated_users_tokens_all_get_401(api_client, alice, tokens_for):
    pair = tokens_for(alice)
    alice.is_active = False
    alice.save(update_fields=["is_active"])

    assert bearer(api_client, pair["access"]) == 401
    api_client.credentials()
    assert (
        api_client.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json").status_code == 401
    )
    for token in pair.values():
        assert api_client.post("/api/auth/verify", {"token": token}, format="json").status_code == 401


def test_16_another_users_backup_is_404_for_every_verb_and_stays(alice_client, bob_client):
    bobs = bob_client.post("/api/sync/backup", upload_body("bob's secret"), format="json").json()["id"]

    assert alice_client.get(f"/api/sync/backup/{bobs}").status_code == 404
    assert alice_client.get(f"/api/sync/backup/{bobs}/download").status_code == 404
    assert alice_client.delete(f"/api/sync/backup/{bobs}").status_code == 404
    assert stored(UserBackup.objects.get(pk=bobs)) == b"bob's secret"


def test_17_lists_show_only_the_callers_rows_whatever_the_query(alice_client, alice, bob_client, bob):
    for client, name in ((alice_client, "alice"), (bob_client, "bob")):
        report = {"device_id": f"{name}-phone", "sync_version": 1, "data_hash": "h"}
        client.post("/api/sync/status", report, format="json")
        client.post("/api/sync/backup", upload_body(f"{name}'s data"), format="json")

    devices = alice_client.get("/api/sync/status", {"user": str(bob.id), "user_id": str(bob.id)})
    backups = alice_client.get("/api/sync/backup", {"user": str(bob.id)})

    assert [device["device_id"] for device in devices.json()] == ["alice-phone"]
    assert [backup["id"] for backup in backups.json()] == [
        str(pk) for pk in UserBackup.objects.filter(user=alice).values_list("pk", flat=True)
    ]


def test_18_privileged_fields_in_bodies_are_ignored(alice_client, alice, bob):
    fields = {"user": str(bob.id), "user_id": str(bob.id), "id": "00000000-0000-4000-8000-000000000000"}
    fields |= {"is_staff": True, "device_count": 99}

    report = alice_client.post(
        "/api/sync/status",
        {"device_id": "phone", "sync_version": 1, "data_hash": "h", **fields},
        format="json",
    )
    upload = alice_client.post("/api/sync/backup", {**upload_body("data"), **fields}, format="json")

    assert (report.status_code, upload.status_code) == (201, 201)
    assert UserSyncStatus.objects.get().user == alice
    backup = UserBackup.objects.get()
    assert (backup.user, str(backup.pk)) == (alice, upload.json()["id"])
    assert str(backup.pk) != fields["id"]
    alice.refresh_from_db()
    assert (alice.is_staff, alice.device_count) == (False, 1)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_19_nobody_writes_scripts_through_the_api(alice_client, method):
    script = AIScript.objects.create(script_name="greeting", version="1", script_content={"prompt": "hi"})

    on_list = getattr(alice_client, method)("/api/ai/scripts", {}, format="json")
    on_item = getattr(alice_client, method)("/api/ai/scripts/greeting", {}, format="json")

    assert (on_list.status_code, on_item.status_code) == (405, 405)
    script.refresh_from_db()
    assert (script.version, script.script_content) == ("1", {"prompt": "hi"})


def test_19_non_staff_cannot_enter_the_admin(client, alice):
    client.force_login(alice)

    assert client.get("/admin/ai_scripts/aiscript/").status_code == 302
    assert client.post("/admin/ai_scripts/aiscript/add/", {"script_name": "x"}).status_code == 302
    assert not AIScript.objects.exists()


def test_23_a_huge_page_size_is_capped(alice_client, alice):
    cap = CappedPagination.MAX_PAGE_SIZE
    now = timezone.now()
    UserSyncStatus.objects.bulk_create(
        UserSyncStatus(user=alice, device_id=f"d{n:04}", sync_version=1, data_hash="h", synced_at=now)
        for n in range(cap + 5)
    )

    first = alice_client.get("/api/sync/status", {"page_size": 1_000_000})
    rest = alice_client.get("/api/sync/status", {"page_size": 1_000_000, "page": 2})

    assert (first.status_code, len(first.json())) == (200, cap)
    assert 'rel="next"' in first["Link"]
    assert (rest.status_code, len(rest.json())) == (200, 5)
    assert "Link" not in rest
    assert {d["device_id"] for d in first.json()} | {d["device_id"] for d in rest.json()} == set(
        UserSyncStatus.objects.values_list("device_id", flat=True)
    )
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    "query", [{"page": "0"}, {"page": "x"}, {"page": "²"}, {"page_size": "-1"}, {"page_size": "1.5"}]
)
def test_23_a_malformed_page_is_400(alice_client, query):
    response = alice_client.get("/api/sync/status", query)

    assert response.status_code == 400
    assert response.json() == {next(iter(query)): ["A positive integer is required."]}


@pytest.mark.parametrize("page", ["23201567078855854784512", str(2**62)])
def test_23_a_page_past_any_list_is_empty_not_an_overflow(alice_client, page):
    # Found by schemathesis: an OFFSET past 64 bits made the database fail (a 500).
    alice_client.post(
        "/api/sync/status", {"device_id": "d", "sync_version": 1, "data_hash": "h"}, format="json"
    )

    response = alice_client.get("/api/sync/status", {"page": page})

    assert (response.status_code, response.json()) == (200, [])
