"""The events consumer in process (asgiref's ApplicationCommunicator, the in-memory layer):
what the live server tests cannot provoke on demand. (channels.testing would need daphne.)"""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer

from persona import consumers, events


async def connected(access: str) -> ApplicationCommunicator:
    """A socket authenticated with `access`, its `ready` received."""
    scope = {
        "type": "websocket",
        "path": "/ws/events",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {access}".encode())],
        "subprotocols": [],
        "client": ("10.0.0.1", 50000),
    }
    communicator = ApplicationCommunicator(consumers.EventsConsumer.as_asgi(), scope)
    await communicator.send_input({"type": "websocket.connect"})
    assert (await communicator.receive_output(2))["type"] == "websocket.accept"
    ready = await communicator.receive_output(2)
    assert '"ready"' in ready["text"]
    return communicator


def test_a_send_that_cannot_complete_in_time_drops_the_socket(settings):
    """A client that stopped reading: the server's send waits on a full socket buffer."""
    settings.EVENTS_SEND_SECONDS = 0.1
    consumer = consumers.EventsConsumer()

    async def a_client_that_stopped_reading(message):
        await asyncio.sleep(60)

    consumer.base_send = a_client_that_stopped_reading
    with pytest.raises(StopConsumer):
        asyncio.run(consumer._send({"type": "sync.version"}))


@pytest.mark.django_db(transaction=True)
def test_a_socket_that_fails_gives_back_its_places_in_the_limits(alice, tokens_for):
    access = tokens_for(alice, "phone")["access"]

    async def connect_then_fail():
        communicator = await connected(access)
        assert consumers._open_by_user[alice.pk] == 1
        # A message the consumer has no handler for makes it raise.
        await get_channel_layer().group_send(events.user_group(alice.pk), {"type": "no.such.handler"})
        with pytest.raises(ValueError, match="No handler"):
            await communicator.wait(timeout=2)

    async_to_sync(connect_then_fail)()
    assert alice.pk not in consumers._open_by_user
    assert not consumers._open_by_address


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_after_the_socket_closed(alice, tokens_for):
    access = tokens_for(alice, "phone")["access"]

    async def close_then_deliver():
        communicator = await connected(access)
        await communicator.send_input({"type": "websocket.receive", "text": "not json"})
        assert (await communicator.receive_output(2))["code"] == 4400
        event = {"id": "1-0", "type": "sync.version", "time": "", "source_device": "", "data": {}}
        await get_channel_layer().group_send(
            events.user_group(alice.pk), {"type": "event.deliver", "event": event}
        )
        assert await communicator.receive_nothing(timeout=0.3)
        await communicator.send_input({"type": "websocket.disconnect", "code": 4400})
        await communicator.wait(timeout=2)

    async_to_sync(close_then_deliver)()
