# The expected tables are as wide as the command prints them.
# ruff: noqa: E501
import datetime
import json
from io import StringIO
from textwrap import dedent

import pytest
from django.core.management import CommandError, call_command

from ai_scripts.models import AIRequest

OK, FAILED, REFUSED = AIRequest.Outcome.OK, AIRequest.Outcome.FAILED, AIRequest.Outcome.REFUSED


def at(day: str, time: str = "12:00:00") -> datetime.datetime:
    return datetime.datetime.fromisoformat(f"{day}T{time}+00:00")


def record(user, alias, created_at, *, status=200, outcome=OK, prompt=0, completion=0, latency=None):
    return AIRequest.objects.create(
        user=user,
        created_at=created_at,
        model_alias=alias,
        provider="fake",
        upstream_model="fake-model",
        status=status,
        outcome=outcome,
        prompt_tokens=prompt,
        completion_tokens=completion,
        latency_ms=latency,
        duration_ms=(latency or 0) + 500,
    )


def usage(*args) -> str:
    out = StringIO()
    call_command("ai_usage", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def may(alice, bob):
    """Relayed requests in May 2026, and two just outside it."""
    record(alice, "persona-chat", at("2026-05-01", "00:00:00"), prompt=100, completion=50, latency=120)
    record(alice, "persona-chat", at("2026-05-31", "23:59:59"), prompt=200, completion=100, latency=180)
    record(alice, "persona-chat", at("2026-05-10"), status=502, outcome=FAILED, latency=None)
    record(alice, "persona-summary", at("2026-05-04"), prompt=1000, completion=20, latency=300)
    record(bob, "persona-chat", at("2026-05-15"), prompt=40, completion=10, latency=92)
    record(bob, "persona-chat", at("2026-05-16"), status=400, outcome=REFUSED, latency=40)
    record(alice, "persona-chat", at("2026-04-30", "23:59:59"), prompt=5000, completion=5000, latency=10)
    record(bob, "persona-summary", at("2026-06-01", "00:00:00"), prompt=5000, completion=5000, latency=10)


def test_it_prints_usage_per_user_and_model_most_tokens_first_with_a_total(may):
    output = usage("--since", "2026-05-01", "--until", "2026-05-31")

    assert output == dedent(
        """\
        AI relay usage from 2026-05-01 to 2026-05-31 (UTC):
        user               model            requests  failed  prompt tokens  completion tokens  total tokens  avg latency ms
        alice@example.com  persona-summary         1       0          1,000                 20         1,020             300
        alice@example.com  persona-chat            3       1            300                150           450             150
        bob@example.com    persona-chat            2       1             40                 10            50              92
        total                                      6       2          1,340                180         1,520             173
        """
    )


def test_it_groups_by_user_or_by_model(may):
    by_user = usage("--since", "2026-05-01", "--until", "2026-05-31", "--by", "user")
    by_model = usage("--since", "2026-05-01", "--until", "2026-05-31", "--by", "model")

    assert by_user == dedent(
        """\
        AI relay usage from 2026-05-01 to 2026-05-31 (UTC):
        user               requests  failed  prompt tokens  completion tokens  total tokens  avg latency ms
        alice@example.com         4       1          1,300                170         1,470             200
        bob@example.com           2       1             40                 10            50              92
        total                     6       2          1,340                180         1,520             173
        """
    )
    assert by_model == dedent(
        """\
        AI relay usage from 2026-05-01 to 2026-05-31 (UTC):
        model            requests  failed  prompt tokens  completion tokens  total tokens  avg latency ms
        persona-summary         1       0          1,000                 20         1,020             300
        persona-chat            5       2            340                160           500             131
        total                   6       2          1,340                180         1,520             173
        """
    )


def test_it_reports_one_users_usage_as_json(may):
    output = usage(
        "--since", "2026-05-01", "--until", "2026-05-31", "--user", "Bob@Example.com", "--format", "json"
    )

    assert json.loads(output) == {
        "since": "2026-05-01",
        "until": "2026-05-31",
        "user": "bob@example.com",
        "rows": [
            {
                "user": "bob@example.com",
                "model": "persona-chat",
                "requests": 2,
                "failed": 1,
                "prompt_tokens": 40,
                "completion_tokens": 10,
                "total_tokens": 50,
                "avg_latency_ms": 92,
            }
        ],
        "total": {
            "requests": 2,
            "failed": 1,
            "prompt_tokens": 40,
            "completion_tokens": 10,
            "total_tokens": 50,
            "avg_latency_ms": 92,
        },
    }


def test_it_reports_this_month_until_today_by_default(may, monkeypatch):
    monkeypatch.setattr(
        "ai_scripts.management.commands.ai_usage.timezone.now", lambda: at("2026-05-15", "18:00:00")
    )

    output = usage("--by", "user")

    assert output == dedent(
        """\
        AI relay usage from 2026-05-01 to 2026-05-15 (UTC):
        user               requests  failed  prompt tokens  completion tokens  total tokens  avg latency ms
        alice@example.com         3       1          1,100                 70         1,170             210
        bob@example.com           1       0             40                 10            50              92
        total                     4       1          1,140                 80         1,220             171
        """
    )


def test_it_says_when_there_is_nothing_to_report(may):
    table = usage("--since", "2026-03-01", "--until", "2026-03-31", "--user", "alice@example.com")
    report = usage("--since", "2026-03-01", "--until", "2026-03-31", "--format", "json")

    assert table == "No AI relay requests of alice@example.com from 2026-03-01 to 2026-03-31 (UTC).\n"
    assert json.loads(report) == {
        "since": "2026-03-01",
        "until": "2026-03-31",
        "user": None,
        "rows": [],
        "total": {
            "requests": 0,
            "failed": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "avg_latency_ms": None,
        },
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-13-01"], "Error: argument --since: '2026-13-01' is not a day like 2025-01-31."),
        (["--until", "31/05/2026"], "Error: argument --until: '31/05/2026' is not a day like 2025-01-31."),
        (
            ["--since", "2026-05-02", "--until", "2026-05-01"],
            "--since (2026-05-02) is after --until (2026-05-01).",
        ),
        (["--user", "carol@example.com"], "No user has the email carol@example.com."),
    ],
)
def test_it_refuses_bad_options(may, args, message):
    with pytest.raises(CommandError) as error:
        usage(*args)

    assert str(error.value) == message
