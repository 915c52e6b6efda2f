"""A socket whose client stopped reading is dropped once an event cannot be handed over
within EVENTS_SEND_SECONDS, rather than buffering its events without bound."""

import asyncio

import pytest
from channels.exceptions import StopConsumer

from persona import consumers


def test_a_send_that_cannot_complete_in_time_drops_the_socket(settings):
    settings.EVENTS_SEND_SECONDS = 1
    consumer = consumers.EventsConsumer()
    consumer.timers = []
    consumer.counted_user, consumer.user_id = True, "alice"
    consumer.counted_address, consumer.address = True, "10.0.0.1"
    consumers._open_by_user["alice"] += 1
    consumers._open_by_address["10.0.0.1"] += 1

    async def a_client_that_stopped_reading(message):
        await asyncio.sleep(60)  # the server's send waits on a full socket buffer

    consumer.base_send = a_client_that_stopped_reading

    with pytest.raises(StopConsumer):
        asyncio.run(consumer._send({"type": "sync.version"}))
    assert "alice" not in consumers._open_by_user
    assert "10.0.0.1" not in consumers._open_by_address
