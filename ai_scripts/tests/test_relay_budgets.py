"""Budgets: requests and tokens per user per UTC day and month, from the settings or the
user's own AIBudget; over one, a 429 with a code and the time it resets. And the cap on a
user's requests in flight at once."""

import datetime

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from ai_scripts import budgets
from ai_scripts.models import AIBudget, AIRequest, AIUsageDay
from ai_scripts.tests.relay_client import relay
from testing.helpers import postgres_only, run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = {"model": "persona-chat", "messages": [{"role": "user", "content": "hello there"}]}


def today() -> datetime.date:
    return timezone.now().astimezone(datetime.UTC).date()


def used(user, *, day=None, requests=0, tokens=0):
    AIUsageDay.objects.create(user=user, day=day or today(), requests=requests, prompt_tokens=tokens)


@override_settings(AI_RELAY_REQUESTS_PER_DAY=2)
def test_the_daily_request_budget_ends_in_a_429_until_midnight_utc(alice, access, chat_alias, fake_provider):
    assert relay(access, HELLO).status == 200
    assert relay(access, HELLO).status == 200

    answer = relay(access, HELLO)

    assert answer.status == 429
    midnight = datetime.datetime.combine(today() + datetime.timedelta(days=1), datetime.time(), datetime.UTC)
    assert answer.error == {
        "message": "The daily AI requests budget (2) is used up; "
        f"it resets at {midnight:%Y-%m-%d %H:%M} UTC.",
        "type": "insufficient_quota",
        "code": "daily_requests_budget_exceeded",
        "param": None,
        "reset_at": midnight.isoformat().replace("+00:00", "Z"),
    }
    assert 0 < int(answer.headers["Retry-After"]) <= 24 * 3600
    # The OpenAI SDKs would otherwise retry at once, in vain.
    assert answer.headers["x-should-retry"] == "false"
    assert len(fake_provider.requests) == 2
    assert AIUsageDay.objects.get(user=alice).requests == 2


@override_settings(AI_RELAY_TOKENS_PER_DAY=10)
def test_the_daily_token_budget_counts_prompt_and_completion(alice, access, chat_alias):
    used(alice, tokens=9)
    assert relay(access, HELLO).status == 200  # 9 < 10: let through, and it costs 2 + 4

    answer = relay(access, HELLO)

    assert answer.status == 429
    assert answer.error["code"] == "daily_tokens_budget_exceeded"


@override_settings(AI_RELAY_REQUESTS_PER_MONTH=5, AI_RELAY_REQUESTS_PER_DAY=100)
def test_the_monthly_budget_adds_up_the_days_of_the_month(alice, access, chat_alias):
    first = today().replace(day=1)
    used(alice, day=first - datetime.timedelta(days=1), requests=50)  # last month: not counted
    used(alice, day=first, requests=4) if first != today() else used(alice, requests=4)
    assert relay(access, HELLO).status == 200

    answer = relay(access, HELLO)

    assert answer.status == 429
    assert answer.error["code"] == "monthly_requests_budget_exceeded"
    next_month = (first + datetime.timedelta(days=32)).replace(day=1)
    assert answer.error["reset_at"] == f"{next_month.isoformat()}T00:00:00Z"


@override_settings(AI_RELAY_REQUESTS_PER_DAY=1)
def test_a_users_own_budget_overrides_the_default(alice, bob, access, tokens_for, chat_alias):
    AIBudget.objects.create(user=alice, requests_per_day=3)
    used(alice, requests=2)
    used(bob, requests=1)

    assert relay(access, HELLO).status == 200
    assert relay(access, HELLO).status == 429
    assert relay(tokens_for(bob)["access"], HELLO).status == 429


@override_settings(AI_RELAY_REQUESTS_PER_DAY=1)
def test_zero_is_no_limit(alice, access, chat_alias):
    AIBudget.objects.create(user=alice, requests_per_day=0)
    used(alice, requests=1000)

    assert relay(access, HELLO).status == 200


@override_settings(AI_RELAY_REQUESTS_PER_DAY=1)
def test_one_users_budget_is_not_anothers(alice, bob, access, tokens_for, chat_alias):
    used(alice, requests=1)

    assert relay(access, HELLO).status == 429
    assert relay(tokens_for(bob)["access"], HELLO).status == 200


@override_settings(AI_RELAY_STREAMS_PER_USER=2)
def test_requests_in_flight_are_capped_per_user(alice, bob, access, tokens_for, chat_alias, fake_provider):
    held = [budgets.relay_slot_take(user_id=alice.pk) for _ in range(2)]

    answer = relay(access, HELLO)

    assert answer.status == 429
    assert answer.error["type"] == "rate_limit_error"
    assert answer.error["code"] == "too_many_concurrent_requests"
    assert answer.headers["Retry-After"] == "1"
    assert fake_provider.requests == []
    assert relay(tokens_for(bob)["access"], HELLO).status == 200
    budgets.relay_slot_release(held[0])
    assert relay(access, HELLO).status == 200


@override_settings(AI_RELAY_STREAMS_PER_USER=1)
def test_a_request_gives_its_place_back_however_it_ends(alice, access, make_provider, make_alias):
    make_alias("persona-chat", routes=[(make_provider("fake", request_timeout_seconds=1), "gpt-4o")])
    make_alias("persona-broken", routes=[(make_provider("broken", request_timeout_seconds=1), "fail-500")])
    make_alias("persona-flaky", routes=[(make_provider("flaky", request_timeout_seconds=1), "disconnect")])

    for body in (
        HELLO,
        {**HELLO, "stream": True},
        {**HELLO, "model": "persona-broken"},
        {**HELLO, "model": "persona-flaky", "stream": True},
    ):
        relay(access, body)
        assert cache.get(f"ai:relay:{alice.pk}:0") is None, body


@postgres_only
def test_requests_ending_at_once_are_all_counted(alice):
    """The day's row is created by one of them and counted up by the others, in one statement."""

    def finished(tokens):
        return lambda: budgets.usage_record(
            request=AIRequest(
                user=alice,
                model_alias="persona-chat",
                status=200,
                outcome="ok",
                prompt_tokens=tokens,
                completion_tokens=1,
            )
        )

    results = run_concurrently(*(finished(tokens) for tokens in range(1, 9)))

    assert results == [None] * 8
    day = AIUsageDay.objects.get(user=alice)
    assert (day.day, day.requests, day.prompt_tokens, day.completion_tokens) == (today(), 8, 36, 8)
    assert AIRequest.objects.filter(user=alice).count() == 8
