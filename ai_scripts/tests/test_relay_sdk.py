"""The relay as apps use it: the official `openai` Python SDK against the ASGI side (gunicorn
with uvicorn workers, as the Procfile's `events` runs it) and, for streams, through
deploy/nginx.conf; the providers are a real OpenAI-compatible server on loopback
(testing.fake_openai). The server has its own SQLite database."""

import json
import sqlite3
import time

import openai
import pytest

from ai_scripts.tests.conftest import RELAY_KEY, RELAY_KEY_ENV
from testing import servers
from testing.events import Account
from testing.fake_openai import UPSTREAM_SECRET_TEXT, fake_openai
from testing.helpers import live_events, live_nginx, needs_nginx

HELLO = [{"role": "user", "content": "hello there"}]


def providers_fixture(base_url: str) -> list[dict]:
    """Two providers on the fake server and the aliases the tests ask for."""
    service = {
        "enabled": True,
        "api_key_env": RELAY_KEY_ENV,
        "base_url": base_url,
        "request_timeout_seconds": 2,
    }
    aliases = {
        "persona-chat": [(1, "gpt-4o-mini")],
        "persona-fallback": [(1, "fail-500"), (2, "gpt-4o")],
        "persona-slow": [(1, "slow-300")],
        "persona-broken": [(1, "fail-500"), (2, "rate-limited")],
    }
    rows = [
        {"model": "ai_scripts.aiservice", "pk": 1, "fields": {**service, "name": "primary", "priority": 1}},
        {"model": "ai_scripts.aiservice", "pk": 2, "fields": {**service, "name": "backup", "priority": 2}},
    ]
    route_pk = 0
    for alias_pk, (name, routes) in enumerate(aliases.items(), start=1):
        rows.append(
            {"model": "ai_scripts.modelalias", "pk": alias_pk, "fields": {"name": name, "enabled": True}}
        )
        for service_pk, model in routes:
            route_pk += 1
            rows.append(
                {
                    "model": "ai_scripts.modelroute",
                    "pk": route_pk,
                    "fields": {"alias": alias_pk, "service": service_pk, "model": model},
                }
            )
    return rows


@pytest.fixture(scope="module")
def upstream():
    with fake_openai(key=RELAY_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory, upstream):
    directory = tmp_path_factory.mktemp("relay")
    database = directory / "db.sqlite3"
    env = {
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": "",
        "RATELIMIT_REGISTER_IP": "1000/m",
        RELAY_KEY_ENV: RELAY_KEY,
        "AI_RELAY_STREAMS_PER_USER": "1",
    }
    fixture = directory / "providers.json"
    fixture.write_text(json.dumps(providers_fixture(upstream.base_url)))
    production = servers.production_env(**env)
    servers.manage(production, "migrate", "--noinput")
    servers.manage(production, "loaddata", str(fixture))
    with live_events(log=directory / "server.log", **env) as events_server:
        events_server.database = database
        yield events_server
    # Whatever the tests did, the provider's key is in no line the server wrote.
    log = (directory / "server.log").read_text()
    assert "POST /api/ai/v1/chat/completions" in log or '"/api/ai/v1/chat/completions"' in log
    assert RELAY_KEY not in log


@pytest.fixture
def account(server):
    return Account(server.base_url)


def sdk(base_url: str, access: str, **options) -> openai.OpenAI:
    """The SDK as the app configures it: the relay's base URL, the access token as API key."""
    return openai.OpenAI(base_url=f"{base_url}/api/ai/v1", api_key=access, **options)


def assert_arrived_as_sent(arrivals: list[float]) -> None:
    """The provider sends a chunk every 300 ms: held back anywhere, they would come together."""
    assert len(arrivals) >= 5
    assert arrivals[-1] - arrivals[0] > 0.6 * 0.3 * (len(arrivals) - 1)


def recorded(server, account, count: int) -> list[tuple]:
    """The (outcome, status) of the account's relayed requests in the server's database, once
    there are `count`: a request is recorded just after its answer is sent."""
    deadline = time.monotonic() + 5
    while True:
        with sqlite3.connect(server.database) as database:
            rows = database.execute(
                "SELECT outcome, status FROM ai_requests"
                " WHERE user_id = (SELECT id FROM users WHERE email = ?) ORDER BY id",
                [account.email],
            ).fetchall()
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_the_sdk_gets_a_completion(server, account, upstream):
    completion = sdk(server.base_url, account.access("phone")).chat.completions.create(
        model="persona-chat", messages=HELLO
    )

    assert completion.choices[0].message.content == "echo: hello there"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (2, 3)
    assert upstream.requests[-1].authorization == f"Bearer {RELAY_KEY}"


def test_the_sdk_streams_chunk_by_chunk(server, account):
    """slow-300: the provider waits 300 ms before each chunk; the app gets each as it comes."""
    stream = sdk(server.base_url, account.access("phone")).chat.completions.create(
        model="persona-slow", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    arrivals, text, usage = [], "", None
    for chunk in stream:
        arrivals.append(time.monotonic())
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        usage = chunk.usage or usage

    assert text == "echo: hello there"
    assert usage.completion_tokens == 3
    assert_arrived_as_sent(arrivals)


def test_the_sdk_is_served_by_the_next_provider(server, account, upstream):
    upstream.reset()

    completion = sdk(server.base_url, account.access("phone")).chat.completions.create(
        model="persona-fallback", messages=HELLO
    )

    assert completion.choices[0].message.content == "echo: hello there"
    assert [request.model for request in upstream.requests] == ["fail-500", "gpt-4o"]


def test_the_sdk_raises_its_usual_errors(server, account):
    client = sdk(server.base_url, account.access("phone"), max_retries=0)

    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="no-such-model", messages=HELLO)
    assert bad.value.code == "model_not_found"
    with pytest.raises(openai.AuthenticationError):
        sdk(server.base_url, "not-a-token", max_retries=0).chat.completions.create(
            model="persona-chat", messages=HELLO
        )
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model="persona-broken", messages=HELLO)
    assert failed.value.status_code == 502
    assert failed.value.code == "upstream_error"
    assert UPSTREAM_SECRET_TEXT not in failed.value.response.text
    assert "127.0.0.1" not in failed.value.response.text


def test_over_budget_the_sdk_raises_a_rate_limit_error_and_does_not_retry(server, account):
    client = sdk(server.base_url, account.access("phone"))  # the SDK's default retries
    with sqlite3.connect(server.database) as database:
        database.execute(
            "INSERT INTO ai_budgets (user_id, requests_per_day) SELECT id, 1 FROM users WHERE email = ?",
            [account.email],
        )
    client.chat.completions.create(model="persona-chat", messages=HELLO)
    # Counted just after its answer went out.
    assert recorded(server, account, 1) == [("ok", 200)]

    with pytest.raises(openai.RateLimitError) as over:
        client.chat.completions.create(model="persona-chat", messages=HELLO)

    assert over.value.code == "daily_requests_budget_exceeded"
    assert over.value.body["reset_at"].endswith("T00:00:00Z")
    # The refused request was not retried (x-should-retry) and is not a relayed request.
    time.sleep(0.2)
    assert recorded(server, account, 1) == [("ok", 200)]
    log = server.log_path.read_text()
    assert log.count('"status": 429') == 1


def test_an_app_that_stops_reading_cancels_the_providers_request(server, account, upstream):
    upstream.reset()
    stream = sdk(server.base_url, account.access("phone")).chat.completions.create(
        model="persona-slow", messages=HELLO, stream=True
    )
    next(iter(stream))

    stream.close()

    upstream.wait_for(lambda fake: fake.requests[-1].cancelled)
    assert not upstream.requests[-1].finished
    # The request is recorded as one the app left, and its place is given back.
    assert recorded(server, account, 1) == [("client_gone", 499)]
    # The server lets one request per account run at once (AI_RELAY_STREAMS_PER_USER=1).
    client = sdk(server.base_url, account.access("phone"), max_retries=0)
    assert client.chat.completions.create(model="persona-chat", messages=HELLO).choices


def test_the_sdk_lists_the_models(server, account):
    models = sdk(server.base_url, account.access("phone")).models.list()

    assert [model.id for model in models] == [
        "persona-broken",
        "persona-chat",
        "persona-fallback",
        "persona-slow",
    ]


@needs_nginx
def test_a_stream_through_the_proxy_is_not_held_back(server, account, tmp_path):
    web_port = servers.free_port()  # nothing listens: the relay's location never reaches the WSGI side
    with live_nginx(upstream_port=web_port, directory=tmp_path, events_port=server.port) as proxy:
        stream = sdk(proxy, account.access("phone")).chat.completions.create(
            model="persona-slow", messages=HELLO, stream=True
        )
        arrivals = [time.monotonic() for _ in stream]

    assert_arrived_as_sent(arrivals)
