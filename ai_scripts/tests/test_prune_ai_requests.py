"""manage.py prune_ai_requests: the per-request records go after --days, the day counters stay."""

import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from ai_scripts import usage
from ai_scripts.models import AIRequest, AIUsageDay


@pytest.fixture
def records(alice):
    now = timezone.now()

    def record(days_ago):
        return AIRequest.objects.create(
            user=alice,
            created_at=now - datetime.timedelta(days=days_ago),
            model_alias="persona-chat",
            status=200,
            outcome="ok",
        )

    AIUsageDay.objects.create(user=alice, day=(now - datetime.timedelta(days=100)).date(), requests=3)
    return {days: record(days) for days in (1, 29, 31, 100, 400)}


def prune(*args) -> str:
    out = StringIO()
    call_command("prune_ai_requests", *args, stdout=out)
    return out.getvalue()


def test_it_deletes_the_records_older_than_the_days_given(records):
    output = prune("--days", "30")

    assert output.startswith("Deleted 3 AI request record(s) from before ")
    assert set(AIRequest.objects.values_list("pk", flat=True)) == {records[1].pk, records[29].pk}
    assert AIUsageDay.objects.get().requests == 3


def test_it_keeps_ninety_days_by_default(records):
    prune()

    assert AIRequest.objects.count() == 3


def test_a_dry_run_deletes_nothing(records):
    output = prune("--days", "30", "--dry-run")

    assert output.startswith("Would delete 3 AI request record(s)")
    assert AIRequest.objects.count() == 5


def test_it_deletes_in_batches(records, monkeypatch):
    monkeypatch.setattr(usage, "PRUNE_BATCH", 2)

    assert usage.requests_prune(older_than=timezone.now()) == 5
    assert not AIRequest.objects.exists()


def test_days_below_one_are_refused(records):
    with pytest.raises(CommandError, match="at least 1"):
        prune("--days", "0")
    assert AIRequest.objects.count() == 5
