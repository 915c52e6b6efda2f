"""Seeds the benchmark database through the app's own models and services; prints JSON.

Run by bench/run.py with the benchmark's environment (DATABASE_URL, JWT_SECRET, ...):
every bench user is deleted and created afresh, so each run starts from the same rows.
"""

import base64
import hashlib
import json
import os
import uuid
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona.settings")
django.setup()

from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.services import token_family_start  # noqa: E402
from ai_scripts import config_services  # noqa: E402
from ai_scripts import services as script_services  # noqa: E402
from ai_scripts.models import AIScript  # noqa: E402
from backups import storage  # noqa: E402
from backups.models import UserBackup  # noqa: E402
from backups.services import backups_delete_for_user  # noqa: E402
from sync.models import UserSyncStatus  # noqa: E402

PASSWORD = "bench passphrase that is long enough"
DOMAIN = "@bench.example.com"
MIB = 1024 * 1024
DEVICES = 64
SCRIPTS = 20
# The remote app configuration (20 parameters, some with rules), in the export format. No rule
# matches the benchmark's request (android 2.3.1, no token): the baselines answer defaults.
APP_CONFIG = Path(__file__).resolve().parent / "app_config.json"
LISTED_BACKUPS = 100
# The live events' users (bench/events.py): two signed-in devices each, one reporting, the
# other listening on its socket.
EVENT_USERS = 500
EVENT_DEVICES = ("phone", "laptop")
# The backup transfers' users (bench/backup_transfers.py): one per concurrent upload, so none meets
# the per-user limits.
TRANSFER_USERS = 50


def payload(size: int, seed: int) -> str:
    """`size` bytes of base64 text, like a client's encrypted backup."""
    block = base64.b64encode(hashlib.sha512(str(seed).encode()).digest() * 1024).decode()
    return (block * (size // len(block) + 1))[:size]


def backups_for(user: User, *, count: int, size: int) -> None:
    """`count` backups of `size` bytes, each payload in the backups' storage under its key.
    Stored past services.backup_create, whose retention keeps BACKUP_KEEP (10) backups: the
    listing rows need 100."""
    backups = []
    for n in range(count):
        data = payload(size, n).encode()
        backup_id = uuid.uuid4()
        key = storage.backup_key(user.pk, backup_id)
        storage.payload_save(key, data)
        backups.append(
            UserBackup(
                id=backup_id,
                user=user,
                storage_key=key,
                backup_date=timezone.now(),
                data_size=size,
                checksum=hashlib.sha256(data).hexdigest(),
            )
        )
    UserBackup.objects.bulk_create(backups)


def delete_bench_users() -> None:
    """Every bench user, with the payloads of their backups and unfinished uploads."""
    bench_users = User.objects.filter(email__endswith=DOMAIN)
    with transaction.atomic():
        for user_id in bench_users.values_list("pk", flat=True):
            backups_delete_for_user(user_id=user_id)
        bench_users.delete()


def event_users(password_hash: str) -> list[dict]:
    """EVENT_USERS users with a token per device: {device_id: access token} each. They share
    one password hash (bcrypt costs 0.25 s a user) and never sign in."""
    users = User.objects.bulk_create(
        User(email=f"events-{n:04d}{DOMAIN}", password=password_hash) for n in range(EVENT_USERS)
    )
    return [
        {device: token_family_start(user=user, device_id=device)["access"] for device in EVENT_DEVICES}
        for user in users
    ]


def transfer_users(password_hash: str) -> list[str]:
    """TRANSFER_USERS users sharing one password hash; an access token each."""
    users = User.objects.bulk_create(
        User(email=f"transfer-{n:02d}{DOMAIN}", password=password_hash) for n in range(TRANSFER_USERS)
    )
    return [token_family_start(user=user)["access"] for user in users]


def main() -> None:
    delete_bench_users()
    for number in range(SCRIPTS):
        name = f"bench-script-{number:02d}"
        if not AIScript.objects.filter(script_name=name).exists():
            content = {
                "system": f"You are Persona's helper number {number}. " * 12,
                "temperature": 0.7,
                "parameters": {"max_tokens": 512, "stop": ["\n\n"]},
            }
            script_services.script_save(
                script=AIScript(script_name=name, version="1.0.0", script_content=content)
            )
    config_services.config_import(document=json.loads(APP_CONFIG.read_text()), note="bench seed")
    users = {}
    for name in ("main", "uploader", "list-big", "list-tiny", "latest-1m", "latest-10m"):
        users[name] = User.objects.create_user(f"{name}{DOMAIN}", PASSWORD)
    UserSyncStatus.objects.bulk_create(
        UserSyncStatus(user=users["main"], device_id=f"bench-{n}", sync_version=0, data_hash="h0")
        for n in range(DEVICES)
    )
    User.objects.filter(pk=users["main"].pk).update(device_count=DEVICES)
    backups_for(users["list-big"], count=LISTED_BACKUPS, size=MIB)
    backups_for(users["list-tiny"], count=LISTED_BACKUPS, size=16)
    backups_for(users["latest-1m"], count=1, size=MIB)
    backups_for(users["latest-10m"], count=1, size=10 * MIB)
    tokens = {name: token_family_start(user=user)["access"] for name, user in users.items()}
    event_tokens = event_users(users["main"].password)
    transfer_tokens = transfer_users(users["main"].password)
    print(
        json.dumps(
            {
                "password": PASSWORD,
                "main_email": f"main{DOMAIN}",
                "tokens": tokens,
                "devices": DEVICES,
                "scripts": AIScript.objects.filter(is_active=True).count(),
                "event_tokens": event_tokens,
                "transfer_tokens": transfer_tokens,
            }
        )
    )


if __name__ == "__main__":
    main()
