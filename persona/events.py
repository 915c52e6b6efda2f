"""Live events for a user's devices: what the services publish, and the backlog that lets a
device that was offline catch up.

An event is a small JSON object: `{"id", "type", "time", "source_device", "data"}`. Services
call `publish()` inside their transaction; the event goes out only when it commits, so a
device never hears of something that was rolled back. Going out means two steps:
1. the event is appended to the user's backlog (a capped, expiring Redis stream when
   REDIS_URL is set, a deque in this process otherwise), which gives it its id;
2. it is sent to the user's group on the channel layer, from which every open socket of that
   user, on any app instance, receives it (persona.consumers.EventsConsumer).

A backing service that is down never fails the request that published: the error is logged
and the devices catch up from the backlog, or are told to resync, when they reconnect.
"""

import asyncio
import collections
import logging
import os
import threading
import time

import orjson
import redis
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

# How long publishing may wait for the channel layer (the backlog's Redis calls: the same):
# a channel layer that hangs must not hold the request that published.
SEND_SECONDS = 1


class EventType:
    SYNC_VERSION = "sync.version"
    DEVICE_DEACTIVATED = "sync.device_deactivated"
    BACKUP_CREATED = "backup.created"
    BACKUP_DELETED = "backup.deleted"
    AI_SCRIPTS_CHANGED = "ai_scripts.changed"
    APP_CONFIG_CHANGED = "app_config.changed"
    # Sent by the socket itself, never published: events were missed, fetch the state again.
    RESYNC = "resync"


EVERYONE = "everyone"


def user_group(user_id) -> str:
    return f"user.{user_id}"


def publish(*, user_id, type: str, data: dict, source_device: str = "") -> None:
    """Sends an event to the user's devices once the current transaction commits."""
    transaction.on_commit(lambda: _send(user_id, type, data, source_device))


def broadcast(*, type: str, data: dict | None = None) -> None:
    """Sends an event to every open socket (a change that concerns all users, e.g. templates);
    not kept in any backlog: a device reconnecting refetches with its ETag anyway."""

    def send():
        event = {"id": None, "type": type, "time": now(), "source_device": "", "data": data or {}}
        _group_send(EVERYONE, {"type": "event.deliver", "event": event})

    transaction.on_commit(send)


def sessions_changed(*, user_ids) -> None:
    """Tells the users' open sockets, once the transaction commits, to check that their
    sign-in is still alive (after a logout, a password change, a deactivation ...)."""
    user_ids = list(user_ids)

    def send():
        for user_id in user_ids:
            _group_send(user_group(user_id), {"type": "sessions.changed"})

    transaction.on_commit(send)


def backlog_since(user_id, last_id: str) -> list[dict] | None:
    """The user's events after `last_id`, oldest first; None when some of them are no longer
    kept (too many since, or too long ago): the device must fetch the state again."""
    return _backlog().since(str(user_id), last_id)


def parse_event_id(value: str) -> tuple[int, int] | None:
    """An event id ("<milliseconds>-<sequence>", as Redis streams number entries) as a
    comparable pair; None when it is not one."""
    milliseconds, dash, sequence = value.partition("-")
    if not (dash and milliseconds.isdigit() and sequence.isdigit() and len(value) <= 41):
        return None
    return int(milliseconds), int(sequence)


def _send(user_id, type: str, data: dict, source_device: str) -> None:
    event = {"id": None, "type": type, "time": now(), "source_device": source_device, "data": data}
    try:
        event["id"] = _backlog().append(str(user_id), event)
    except redis.RedisError:
        logger.exception("event backlog unavailable; %s not kept for replay", type)
    _group_send(user_group(user_id), {"type": "event.deliver", "event": event})


def _group_send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    try:
        if isinstance(layer, InMemoryChannelLayer):
            # The in-memory layer lives in the one event loop of its process (make run's):
            # async_to_sync sends from there.
            async_to_sync(_send_within)(layer, group, message)
        else:
            sending = asyncio.run_coroutine_threadsafe(_send_within(layer, group, message), _publisher_loop())
            sending.result(timeout=SEND_SECONDS + 1)
    except (redis.RedisError, OSError, TimeoutError):
        logger.exception("channel layer unavailable; %s not delivered live", message["type"])


async def _send_within(layer, group: str, message: dict) -> None:
    await asyncio.wait_for(layer.group_send(group, message), SEND_SECONDS)


_publisher = None
_publisher_lock = threading.Lock()


def _publisher_loop() -> asyncio.AbstractEventLoop:
    """An event loop that runs in a thread of its own for as long as the process lives, from
    which every request thread sends to Redis. A WSGI thread has no loop: async_to_sync would
    make a new one per event, and channels-redis a new connection for it (bench/README.md)."""
    global _publisher
    with _publisher_lock:
        if _publisher is None or _publisher[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="events-publisher", daemon=True).start()
            _publisher = (os.getpid(), loop)
        return _publisher[1]


def now() -> str:
    """The server time as events carry it: ISO 8601, UTC, milliseconds."""
    return timezone.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RedisBacklog:
    """One stream per user, capped at EVENTS_BACKLOG entries and expiring
    EVENTS_BACKLOG_SECONDS after its last event."""

    def __init__(self, url: str):
        self.redis = redis.Redis.from_url(
            url, socket_timeout=SEND_SECONDS, socket_connect_timeout=SEND_SECONDS
        )

    def append(self, user_id: str, event: dict) -> str:
        key = self._key(user_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(key, {"event": _encode(event)}, maxlen=settings.EVENTS_BACKLOG, approximate=False)
        pipe.expire(key, settings.EVENTS_BACKLOG_SECONDS)
        event_id, _ = pipe.execute()
        return event_id.decode()

    def since(self, user_id: str, last_id: str) -> list[dict] | None:
        entries = self.redis.xrange(self._key(user_id), min="-", max="+")
        return _after(
            [
                (entry_id.decode(), _decode(fields[b"event"], entry_id.decode()))
                for entry_id, fields in entries
            ],
            last_id,
        )

    def _key(self, user_id: str) -> str:
        return f"persona:events:{user_id}"


class MemoryBacklog:
    """The embedded default, for a single-process server: RedisBacklog's rules in a dict."""

    def __init__(self):
        self.lock = threading.Lock()
        self.streams: dict[str, tuple[float, collections.deque]] = {}
        self.last_id = (0, 0)

    def append(self, user_id: str, event: dict) -> str:
        with self.lock:
            milliseconds = max(int(time.time() * 1000), self.last_id[0])
            sequence = self.last_id[1] + 1 if milliseconds == self.last_id[0] else 0
            self.last_id = (milliseconds, sequence)
            event_id = f"{milliseconds}-{sequence}"
            stream = self._live(user_id) or collections.deque(maxlen=settings.EVENTS_BACKLOG)
            stream.append((event_id, {**event, "id": event_id}))
            self.streams[user_id] = (time.monotonic() + settings.EVENTS_BACKLOG_SECONDS, stream)
            return event_id

    def since(self, user_id: str, last_id: str) -> list[dict] | None:
        with self.lock:
            return _after(list(self._live(user_id) or ()), last_id)

    def _live(self, user_id: str) -> collections.deque | None:
        expires, stream = self.streams.get(user_id, (0, None))
        return stream if expires > time.monotonic() else None


def _after(entries: list[tuple[str, dict]], last_id: str) -> list[dict] | None:
    """The events after `last_id` in a backlog holding `entries`, or None when some may be
    missing. A stream loses entries in two ways only: trimmed from the front once it holds
    EVENTS_BACKLOG of them, or dropped whole EVENTS_BACKLOG_SECONDS after its last event.
    So an empty stream, or one that starts after `last_id` while it is full or `last_id`
    is older than a stream can live, may have lost events the device never saw."""
    last = parse_event_id(last_id)
    if not entries:
        return None
    starts_after = last < parse_event_id(entries[0][0])
    if starts_after and (len(entries) >= settings.EVENTS_BACKLOG or _older_than_backlog(last)):
        return None
    return [event for entry_id, event in entries if parse_event_id(entry_id) > last]


def _older_than_backlog(event_id: tuple[int, int]) -> bool:
    return event_id[0] < (time.time() - settings.EVENTS_BACKLOG_SECONDS) * 1000


def _encode(event: dict) -> bytes:
    return orjson.dumps({key: value for key, value in event.items() if key != "id"})


def _decode(raw: bytes, event_id: str) -> dict:
    return {"id": event_id, **orjson.loads(raw)}


_backlog_instance = None
_backlog_lock = threading.Lock()


def _backlog():
    global _backlog_instance
    with _backlog_lock:
        if _backlog_instance is None:
            _backlog_instance = RedisBacklog(settings.REDIS_URL) if settings.REDIS_URL else MemoryBacklog()
        return _backlog_instance
