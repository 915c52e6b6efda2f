"""The AI relay benchmark's client (bench/relay_client.py) counts only what went well: a
completion, a stream or a REST read the server refused or cut short is a failure, never a
sample; and the bench's provider and environment let the relay stream to it."""

import asyncio

import pytest

from ai_scripts.models import AIRequest
from bench import relay, relay_client
from bench.tests.test_baselines import baseline_env
from testing import servers
from testing.fake_openai import fake_openai
from testing.helpers import postgres_only

KEY = "sk-bench-test"


def against(coroutine_function, *args, **kwargs):
    async def call():
        async with relay_client.session() as client:
            return await coroutine_function(client, *args, **kwargs)

    return asyncio.run(call())


def test_the_client_times_completions_and_refusals_are_not_samples():
    with fake_openai(key=KEY) as provider:
        url = f"{provider.base_url}/chat/completions"
        answered = against(
            relay_client.requests,
            {"url": url, "model": "gpt-4o-mini", "tokens": [KEY]},
            count=5,
            concurrency=2,
        )
        first_bytes = against(
            relay_client.requests,
            {"url": url, "model": "stream-0.5-2", "tokens": [KEY]},
            count=2,
            concurrency=1,
            stream=True,
        )
        refused = against(
            relay_client.requests,
            {"url": url, "model": "gpt-4o-mini", "tokens": ["wrong"]},
            count=3,
            concurrency=3,
        )

    assert (answered["statuses"], answered["count"], answered["errors"]) == ({"200": 5}, 5, {})
    # The first byte of a stream comes before the half second its words take.
    assert first_bytes["statuses"] == {"200": 2}
    assert len(first_bytes["ms"]) == 2
    assert max(first_bytes["ms"]) < 400
    assert (refused["statuses"], refused["ms"]) == ({"401": 3}, [])


def test_the_client_counts_streams_that_end_with_done_and_names_the_others():
    with fake_openai(key=KEY) as provider:
        url = f"{provider.base_url}/chat/completions"
        held = against(
            relay_client.streams, {"url": url, "model": "stream-0.2-3", "tokens": [KEY, "wrong"]}, count=4
        )
        cut = against(relay_client.streams, {"url": url, "model": "disconnect", "tokens": [KEY]}, count=2)

    assert (held["streams"], held["completed"]) == (4, 2)
    assert held["errors"] == {"status 401 invalid_api_key": 2}
    assert held["events"] == {"5": 2}  # the role, three words, the finish
    assert (cut["completed"], sum(cut["errors"].values())) == (0, 2)


def test_the_server_log_errors_are_counted_by_kind():
    log = "\n".join(
        [
            "[2026-12-03 18:51:04 +0000] [22117] [INFO] Starting gunicorn 27.0.1",
            '{"level": "INFO", "logger": "persona.requests", "message": "request", "status": 200}',
            '{"level": "ERROR", "logger": "persona.views", "message": "database unavailable",'
            ' "exception": "Traceback ...\\nOperationalError: no connection"}',
        ]
        * 2
    )

    assert relay.log_errors(log) == {
        "persona.views / database unavailable / OperationalError: no connection": 2
    }


def test_the_probe_times_each_target_apart():
    with fake_openai(key=KEY) as provider:
        targets = {
            "good": {"url": f"{provider.base_url}/models", "token": KEY},
            "refused": {"url": f"{provider.base_url}/models", "token": "wrong"},
        }
        result = against(relay_client.probe, targets, seconds=0.3, interval=0.05)

    assert result["good"]["count"] == result["good"]["statuses"]["200"] >= 3
    assert result["refused"]["count"] == 0
    assert set(result["refused"]["statuses"]) == {"401"}


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_streams_through_the_relay_to_the_bench_provider_are_recorded(alice, bob, tokens_for):
    tokens = [tokens_for(user)["access"] for user in (alice, bob)]
    env = baseline_env()
    with fake_openai(key=relay.PROVIDER_KEY) as provider:
        relay.providers_save(env, provider.base_url)
        with servers.events({**relay.relay_env(env), "WEB_CONCURRENCY": "1"}) as server:
            target = {
                "url": f"{server.base_url}/api/ai/v1/chat/completions",
                "model": "bench-relay-fast",
                "tokens": tokens,
            }
            held = against(relay_client.streams, target, count=2)

    assert (held["completed"], held["errors"]) == (2, {})
    assert set(AIRequest.objects.values_list("user_id", "model_alias", "outcome")) == {
        (alice.pk, "bench-relay-fast", "ok"),
        (bob.pk, "bench-relay-fast", "ok"),
    }
