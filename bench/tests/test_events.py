"""The live events benchmark's client counts a socket as open only when the events server
signed it in (`ready`) and it answers a ping; a refused token is a failure, not a socket."""

import asyncio

import pytest

from bench import events
from bench.tests.test_baselines import baseline_env
from testing import servers
from testing.helpers import postgres_only


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_client_counts_signed_in_sockets_and_refused_tokens(alice, tokens_for):
    tokens = [tokens_for(alice, device)["access"] for device in ("phone", "laptop")]

    async def client(url):
        sockets, errors = await events.open_many(url, [*tokens, "not-a-token"], 3, 2)
        answers = [await events.ping(socket) for socket in sockets]
        await events.close_all(sockets, 2)
        return len(sockets), sum(errors.values()), answers

    with servers.events(baseline_env()) as server:
        opened, failed, answers = asyncio.run(client(f"ws://127.0.0.1:{server.port}/ws/events"))
    assert (opened, failed, answers) == (2, 1, [True, True])
