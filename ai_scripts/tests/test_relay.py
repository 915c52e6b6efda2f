"""The relay, /api/ai/v1/chat/completions, in process against a real OpenAI-compatible server
on loopback (testing.fake_openai): answers, streams, routing and fallback, upstream failures.
Budgets, templates and bad input have their own files."""

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.test import AsyncClient

from ai_scripts import relay as relay_module
from ai_scripts.models import AIRequest, AIUsageDay
from ai_scripts.tests.conftest import RELAY_KEY
from ai_scripts.tests.relay_client import CHAT, relay
from testing.fake_openai import UPSTREAM_SECRET_TEXT

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = {"model": "persona-chat", "messages": [{"role": "user", "content": "hello there"}]}


def test_it_answers_with_the_providers_completion(access, chat_alias, fake_provider, alice):
    answer = relay(access, HELLO)

    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json"
    completion = answer.json()
    assert completion["choices"][0]["message"] == {"role": "assistant", "content": "echo: hello there"}
    assert completion["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    [sent] = fake_provider.requests
    assert sent.model == "gpt-4o-mini"
    assert sent.authorization == f"Bearer {RELAY_KEY}"
    assert sent.body["messages"] == HELLO["messages"]
    assert sent.body["max_tokens"] == 4096
    record = AIRequest.objects.get()
    assert (record.user, record.model_alias, record.provider, record.upstream_model) == (
        alice,
        "persona-chat",
        "fake",
        "gpt-4o-mini",
    )
    assert (record.status, record.outcome, record.stream) == (200, "ok", False)
    assert (record.prompt_tokens, record.completion_tokens) == (2, 3)
    assert record.latency_ms is not None
    day = AIUsageDay.objects.get()
    assert (day.user, day.requests, day.prompt_tokens, day.completion_tokens) == (alice, 1, 2, 3)


def test_it_streams_the_providers_events(access, chat_alias, fake_provider, alice):
    answer = relay(access, {**HELLO, "stream": True})

    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/event-stream"
    assert answer.headers["X-Accel-Buffering"] == "no"
    events = answer.events()
    assert events[-1] == "[DONE]"
    text = "".join(event["choices"][0]["delta"].get("content", "") for event in events[:-1])
    assert text == "echo: hello there"
    # The relay asks for usage to count it; the app did not, so it gets no usage chunk.
    assert fake_provider.requests[0].body["stream_options"] == {"include_usage": True}
    assert all(event["choices"] for event in events[:-1])
    record = AIRequest.objects.get()
    assert (record.status, record.outcome, record.stream) == (200, "ok", True)
    assert (record.prompt_tokens, record.completion_tokens) == (2, 3)
    assert AIUsageDay.objects.get().requests == 1


def test_a_stream_carries_usage_when_the_app_asks(access, chat_alias):
    answer = relay(access, {**HELLO, "stream": True, "stream_options": {"include_usage": True}})

    assert answer.status == 200
    usage_chunk = answer.events()[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}


def test_it_falls_back_to_the_next_provider_when_one_fails(access, make_provider, make_alias, fake_provider):
    make_alias(
        "persona-chat",
        routes=[
            (make_provider("broken", priority=1), "fail-500"),
            (make_provider("backup", priority=2), "gpt-4o"),
        ],
    )

    answer = relay(access, HELLO)

    assert answer.status == 200
    assert answer.json()["choices"][0]["message"]["content"] == "echo: hello there"
    assert [sent.model for sent in fake_provider.requests] == ["fail-500", "gpt-4o"]
    record = AIRequest.objects.get()
    assert (record.provider, record.upstream_model, record.outcome) == ("backup", "gpt-4o", "ok")


@pytest.mark.parametrize("failing_model", ["rate-limited", "fail-500", "hang", "bad-key"])
def test_a_stream_falls_back_before_its_first_byte(
    access, make_provider, make_alias, fake_provider, failing_model, monkeypatch
):
    # "bad-key": a provider that no longer takes its key (401).
    monkeypatch.setenv("PERSONA_TEST_WRONG_KEY", "sk-wrong")
    key_env = "PERSONA_TEST_WRONG_KEY" if failing_model == "bad-key" else "PERSONA_TEST_PROVIDER_KEY"
    make_alias(
        "persona-chat",
        routes=[
            (
                make_provider("first", priority=1, request_timeout_seconds=1, api_key_env=key_env),
                failing_model,
            ),
            (make_provider("second", priority=2), "gpt-4o"),
        ],
    )

    answer = relay(access, {**HELLO, "stream": True})

    assert answer.status == 200
    events = answer.events()
    assert events[-1] == "[DONE]"
    assert (
        "".join(event["choices"][0]["delta"].get("content", "") for event in events[:-1])
        == "echo: hello there"
    )
    assert AIRequest.objects.get().provider == "second"


def test_the_provider_with_the_lowest_priority_number_goes_first(
    access, make_provider, make_alias, fake_provider
):
    make_alias(
        "persona-chat",
        routes=[
            (make_provider("later", priority=50), "gpt-4o"),
            (make_provider("sooner", priority=10), "gpt-4o-mini"),
        ],
    )

    assert relay(access, HELLO).status == 200

    assert [sent.model for sent in fake_provider.requests] == ["gpt-4o-mini"]


@pytest.mark.parametrize(
    ("models", "status", "code"),
    [
        (["fail-500", "rate-limited"], 502, "upstream_error"),
        (["hang", "hang"], 504, "upstream_timeout"),
        (["hang", "fail-500"], 502, "upstream_error"),
    ],
)
def test_when_every_provider_fails_the_app_gets_a_gateway_error(
    access, make_provider, make_alias, fake_provider, models, status, code, caplog, alice
):
    make_alias(
        "persona-chat",
        routes=[
            (make_provider(f"provider-{number}", priority=number, request_timeout_seconds=1), model)
            for number, model in enumerate(models)
        ],
    )

    answer = relay(access, HELLO)

    assert answer.status == status
    assert answer.error["code"] == code
    assert answer.error["type"] == "api_error"
    # Neither the provider's words nor its address reach the app or the logs.
    for text in (UPSTREAM_SECRET_TEXT, "127.0.0.1", "10.9.8.7"):
        assert text not in answer.content.decode()
        assert text not in caplog.text
    record = AIRequest.objects.get()
    assert (record.user, record.status, record.outcome, record.provider) == (alice, status, "failed", "")
    # A request that got nothing costs no tokens, but it counts as a request.
    day = AIUsageDay.objects.get()
    assert (day.requests, day.prompt_tokens, day.completion_tokens) == (1, 0, 0)


def test_a_request_the_provider_refuses_is_a_400_without_its_words(
    access, make_provider, make_alias, fake_provider
):
    make_alias(
        "persona-chat",
        routes=[
            (make_provider("strict", priority=1), "bad-request"),
            (make_provider("other", priority=2), "gpt-4o"),
        ],
    )

    answer = relay(access, HELLO)

    assert answer.status == 400
    assert answer.error == {
        "message": "The AI provider refused this request (HTTP 400).",
        "type": "invalid_request_error",
        "code": "upstream_refused",
        "param": None,
    }
    # Another provider would refuse the same request: no fallback.
    assert [sent.model for sent in fake_provider.requests] == ["bad-request"]
    assert AIRequest.objects.get().outcome == "refused"


def test_an_alias_without_an_enabled_provider_is_a_503(access, make_provider, make_alias):
    make_alias("persona-chat", routes=[(make_provider("off", enabled=False), "gpt-4o")])

    answer = relay(access, HELLO)

    assert answer.status == 503
    assert answer.error["code"] == "no_provider"


def test_a_provider_whose_key_variable_is_unset_is_passed_over(
    access, make_provider, make_alias, fake_provider, monkeypatch
):
    keyless = make_provider("keyless", priority=1, api_key_env="PERSONA_TEST_UNSET_KEY")
    monkeypatch.delenv("PERSONA_TEST_UNSET_KEY", raising=False)
    make_alias("persona-chat", routes=[(keyless, "gpt-4o"), (make_provider("keyed", priority=2), "gpt-4o")])

    answer = relay(access, HELLO)

    assert answer.status == 200
    # The keyless request was refused (401) by the provider, and the next one served it.
    assert [sent.authorization for sent in fake_provider.requests] == ["", f"Bearer {RELAY_KEY}"]
    assert AIRequest.objects.get().provider == "keyed"


def test_a_provider_that_stops_mid_stream_ends_the_stream_with_an_error_event(
    access, make_provider, make_alias
):
    make_alias("persona-chat", routes=[(make_provider("flaky"), "disconnect")])

    answer = relay(access, {**HELLO, "stream": True})

    assert answer.status == 200
    events = answer.events()
    assert events[-1] == {
        "error": {
            "message": "The AI provider stopped answering mid-stream.",
            "type": "api_error",
            "code": "upstream_interrupted",
            "param": None,
        }
    }
    assert "[DONE]" not in events
    record = AIRequest.objects.get()
    assert (record.status, record.outcome, record.provider) == (502, "interrupted", "flaky")
    # Without the provider's count, the streamed words are estimated: "echo: hello" is 11 characters.
    assert record.completion_tokens == 3


def test_the_providers_key_never_reaches_a_log_line(access, chat_alias, caplog):
    caplog.set_level("DEBUG")

    relay(access, HELLO)
    relay(access, {**HELLO, "stream": True})

    assert RELAY_KEY not in caplog.text


def test_each_process_keeps_an_aliases_routes_for_a_few_seconds(
    access, make_provider, make_alias, fake_provider, monkeypatch
):
    alias = make_alias("persona-chat", routes=[(make_provider("first"), "gpt-4o-mini")])
    assert relay(access, HELLO).status == 200
    alias.routes.update(model="gpt-4o")

    assert relay(access, HELLO).status == 200
    monkeypatch.setattr(relay_module, "ROUTES_SECONDS", 0)
    relay_module.routes_forget()
    assert relay(access, HELLO).status == 200
    assert relay(access, HELLO).status == 200

    models = [sent.model for sent in fake_provider.requests]
    assert models == ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o", "gpt-4o"]


def test_a_fault_of_the_servers_own_still_frees_the_requests_place(access, chat_alias, alice, monkeypatch):
    async def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("ai_scripts.upstream.answer", broken)

    async def call():
        client = AsyncClient(raise_request_exception=False)
        headers = {"Authorization": f"Bearer {access}"}
        return await client.post(CHAT, HELLO, content_type="application/json", headers=headers)

    assert async_to_sync(call)().status_code == 500
    assert cache.get(f"ai:relay:{alice.pk}:0") is None
    record = AIRequest.objects.get()
    assert (record.status, record.outcome) == (500, "failed")
