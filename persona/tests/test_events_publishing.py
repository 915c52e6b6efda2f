"""What the services publish, and when: only committed changes, to the right group, once.
In process, with the channel layer of the settings (in-memory, or Redis when REDIS_URL is set)."""

import asyncio
import hashlib

import pytest
from asgiref.sync import async_to_sync
from channels.layers import DEFAULT_CHANNEL_LAYER, InMemoryChannelLayer, channel_layers, get_channel_layer
from django.db import transaction

from accounts.models import TokenFamily, User
from accounts.services import token_families_revoke, token_family_start, token_refresh, users_deactivate
from ai_scripts.models import AIScript
from ai_scripts.services import script_save, scripts_delete
from backups.models import UserBackup
from backups.services import backup_create, backup_delete
from persona import events
from sync.services import sync_status_deactivate, sync_status_report
from testing.helpers import PASSWORD

HASH = "a" * 64


class Listener:
    """A channel subscribed to groups, as a socket's consumer is, read once."""

    def __init__(self, *groups):
        self.layer = get_channel_layer()
        if not isinstance(self.layer, InMemoryChannelLayer):
            # A Redis layer receives on the event loop it first received on, and each
            # async_to_sync call runs one of its own: a listener gets a layer of its own.
            self.layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        self.channel = async_to_sync(self.layer.new_channel)()
        self.groups = groups
        for group in groups:
            async_to_sync(self.layer.group_add)(group, self.channel)

    def messages(self) -> list[dict]:
        """Every message waiting for this channel."""
        return async_to_sync(self._drain)()

    async def _drain(self):
        received = []
        while True:
            try:
                received.append(await asyncio.wait_for(self.layer.receive(self.channel), 0.2))
            except TimeoutError:
                return received

    def close(self):
        for group in self.groups:
            async_to_sync(self.layer.group_discard)(group, self.channel)


@pytest.fixture
def listen():
    listeners = []

    def make(*groups):
        listener = Listener(*groups)
        listeners.append(listener)
        return listener

    yield make
    for listener in listeners:
        listener.close()


@pytest.fixture(autouse=True)
def fresh_backlog(monkeypatch):
    """Each test starts with an empty per-process backlog (Redis keys are per user anyway)."""
    monkeypatch.setattr(events, "_backlog_instance", None)


def delivered(listener) -> list[dict]:
    return [message["event"] for message in listener.messages() if message["type"] == "event.deliver"]


@pytest.mark.django_db(transaction=True)
def test_an_accepted_report_is_published_once_with_its_id_in_the_backlog(alice, listen):
    listener = listen(events.user_group(alice.pk))
    sync_status_report(user=alice, device_id="phone", sync_version=1, data_hash=HASH)
    sync_status_report(user=alice, device_id="phone", sync_version=1, data_hash=HASH)  # a retry
    sync_status_report(user=alice, device_id="phone", sync_version=2, data_hash=HASH)

    first, second = delivered(listener)
    assert first["type"] == "sync.version"
    assert first["source_device"] == "phone"
    assert first["data"] == {"device_id": "phone", "sync_version": 1, "data_hash": HASH}
    assert events.backlog_since(alice.pk, first["id"]) == [second]
    assert events.backlog_since(alice.pk, second["id"]) == []


@pytest.mark.django_db(transaction=True)
def test_a_refused_report_publishes_nothing(alice, listen):
    sync_status_report(user=alice, device_id="phone", sync_version=2, data_hash=HASH)
    listener = listen(events.user_group(alice.pk))
    with pytest.raises(Exception, match="newer version"):
        sync_status_report(user=alice, device_id="phone", sync_version=1, data_hash=HASH)
    assert delivered(listener) == []


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_publishes_nothing(alice, listen):
    listener = listen(events.user_group(alice.pk))

    def report_then_fail():
        with transaction.atomic():
            sync_status_report(user=alice, device_id="phone", sync_version=1, data_hash=HASH)
            raise RuntimeError("the request failed later")

    with pytest.raises(RuntimeError):
        report_then_fail()
    assert delivered(listener) == []
    assert events.backlog_since(alice.pk, "0-1") is None


@pytest.mark.django_db(transaction=True)
def test_events_go_to_their_user_only(alice, bob, listen):
    bobs = listen(events.user_group(bob.pk))
    sync_status_report(user=alice, device_id="phone", sync_version=1, data_hash=HASH)
    assert delivered(bobs) == []


@pytest.mark.django_db(transaction=True)
def test_deactivating_a_device_publishes_it_and_closes_its_sessions(alice, listen):
    sync_status_report(user=alice, device_id="phone", sync_version=1, data_hash=HASH)
    token_family_start(user=alice, device_id="phone")
    listener = listen(events.user_group(alice.pk))
    sync_status_deactivate(user=alice, device_id="phone")
    messages = listener.messages()
    assert {"type": "sessions.changed"} in messages
    [event] = [message["event"] for message in messages if message["type"] == "event.deliver"]
    assert event["type"] == "sync.device_deactivated"
    assert event["data"] == {"device_id": "phone"}


@pytest.mark.django_db(transaction=True)
def test_backups_created_and_deleted_are_published(alice, listen):
    listener = listen(events.user_group(alice.pk))
    backup, _ = backup_create(
        user=alice, encrypted_data="data", checksum=hashlib.sha256(b"data").hexdigest(), device_id="phone"
    )
    backup_delete(backup=UserBackup.objects.get(pk=backup.pk))
    created, deleted = delivered(listener)
    assert created["type"] == "backup.created"
    assert created["data"] == {
        "backup_id": str(backup.pk),
        "device_id": "phone",
        "sync_version": None,
        "data_size": 4,
    }
    assert deleted["type"] == "backup.deleted"
    assert deleted["data"] == {"backup_id": str(backup.pk)}
    assert not UserBackup.objects.filter(pk=backup.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_script_changes_are_broadcast_to_everyone(listen):
    listener = listen(events.EVERYONE)
    script = AIScript(script_name="greeting", version="1.0.0", script_content={"prompt": "Hello"})
    script_save(script=script)
    scripts_delete(scripts=AIScript.objects.filter(pk=script.pk))
    changes = delivered(listener)
    assert [event["type"] for event in changes] == ["ai_scripts.changed", "ai_scripts.changed"]
    assert all(event["id"] is None for event in changes)


def sessions_changed(listener) -> int:
    return sum(message["type"] == "sessions.changed" for message in listener.messages())


@pytest.mark.django_db(transaction=True)
def test_revoking_families_tells_the_users_sockets(alice, listen):
    token_family_start(user=alice, device_id="phone")
    listener = listen(events.user_group(alice.pk))
    token_families_revoke(user=alice)
    assert sessions_changed(listener) == 1
    later = listen(events.user_group(alice.pk))
    token_families_revoke(user=alice)  # nothing left to revoke
    assert sessions_changed(later) == 0


@pytest.mark.django_db(transaction=True)
def test_a_replayed_refresh_token_tells_the_users_sockets(alice, listen, settings):
    settings.JWT_REFRESH_GRACE_SECONDS = 0
    refresh = token_family_start(user=alice, device_id="phone")["refresh"]
    token_refresh(refresh=refresh)
    listener = listen(events.user_group(alice.pk))
    with pytest.raises(Exception, match="already used"):
        token_refresh(refresh=refresh)
    assert sessions_changed(listener) == 1
    assert TokenFamily.objects.get(user=alice).revoked_at is not None


@pytest.mark.django_db(transaction=True)
def test_deactivating_users_tells_their_sockets(alice, bob, listen):
    alices, bobs = listen(events.user_group(alice.pk)), listen(events.user_group(bob.pk))
    users_deactivate(users=User.objects.filter(pk=alice.pk))
    assert sessions_changed(alices) == 1
    assert sessions_changed(bobs) == 0


@pytest.mark.django_db(transaction=True)
def test_deleting_an_account_tells_its_sockets(alice, api_client, client_for, listen):
    listener = listen(events.user_group(alice.pk))
    response = client_for(alice).post("/api/auth/profile/delete", {"password": PASSWORD}, format="json")
    assert response.status_code == 204
    assert sessions_changed(listener) == 1
