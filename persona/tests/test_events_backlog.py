"""The per-user backlog a reconnecting device catches up from: in Redis when REDIS_URL is set,
in the process otherwise; both keep the same rules."""

import time
import uuid

import pytest
from django.conf import settings as django_settings

from persona import events

BACKENDS = ["memory"] + (["redis"] if django_settings.REDIS_URL else [])


@pytest.fixture(params=BACKENDS)
def backlog(request, settings):
    settings.EVENTS_BACKLOG = 3
    settings.EVENTS_BACKLOG_SECONDS = 60
    if request.param == "redis":
        return events.RedisBacklog(settings.REDIS_URL)
    return events.MemoryBacklog()


def append(backlog, user: str, count: int) -> list[str]:
    return [backlog.append(user, {"type": "sync.version", "data": {"n": n}}) for n in range(count)]


def numbers(replayed) -> list[int]:
    return [event["data"]["n"] for event in replayed]


def test_events_after_the_last_seen_come_back_in_order(backlog):
    user = str(uuid.uuid4())
    ids = append(backlog, user, 3)
    assert numbers(backlog.since(user, ids[0])) == [1, 2]
    assert backlog.since(user, ids[2]) == []
    assert [event["id"] for event in backlog.since(user, ids[0])] == ids[1:]


def test_ids_increase(backlog):
    ids = append(backlog, str(uuid.uuid4()), 3)
    assert sorted(ids, key=events.parse_event_id) == ids
    assert len(set(ids)) == 3


def test_a_last_id_the_capped_backlog_no_longer_holds_means_resync(backlog):
    user = str(uuid.uuid4())
    ids = append(backlog, user, 5)
    # ids[1] was the last trimmed: nothing was lost after it, but the backlog cannot tell.
    assert backlog.since(user, ids[0]) is None
    assert backlog.since(user, ids[1]) is None
    assert numbers(backlog.since(user, ids[2])) == [3, 4]


def test_an_id_older_than_a_backlog_lives_means_resync(backlog):
    user = str(uuid.uuid4())
    append(backlog, user, 1)
    assert backlog.since(user, "1000-0") is None


def test_a_recent_id_before_a_short_backlog_gets_everything(backlog):
    user = str(uuid.uuid4())
    ids = append(backlog, user, 2)
    milliseconds, _ = events.parse_event_id(ids[0])
    assert numbers(backlog.since(user, f"{milliseconds - 1}-0")) == [0, 1]


def test_an_expired_backlog_means_resync(backlog, settings, monkeypatch):
    settings.EVENTS_BACKLOG_SECONDS = 1
    user = str(uuid.uuid4())
    ids = append(backlog, user, 2)
    if isinstance(backlog, events.MemoryBacklog):
        later = time.monotonic() + 1.2
        monkeypatch.setattr(events.time, "monotonic", lambda: later)
    else:
        time.sleep(1.2)  # Redis expires the key itself
    assert backlog.since(user, ids[1]) is None


def test_each_user_has_a_backlog_of_their_own(backlog):
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    first = append(backlog, alice, 1)[0]
    append(backlog, bob, 2)
    assert backlog.since(alice, first) == []


@pytest.mark.parametrize("value", ["", "12", "12-", "-3", "a-1", "1-b", "1-2-3", "1" * 40 + "-1"])
def test_malformed_ids_are_refused(value):
    assert events.parse_event_id(value) is None


def test_an_id_parses_to_a_comparable_pair():
    assert events.parse_event_id("1796305712079-12") == (1796305712079, 12)
