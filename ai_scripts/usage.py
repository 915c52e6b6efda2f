"""Relay usage over a period, from the AIRequest rows: what `manage.py ai_usage` prints."""

import datetime

from django.db.models import Count, F, Q, Sum

from ai_scripts.models import AIRequest

# What a report groups by: the columns named on the left, read from the fields on the right.
GROUPINGS = {
    "user": {"user": "user__email"},
    "model": {"model": "model_alias"},
    "user-model": {"user": "user__email", "model": "model_alias"},
}
SUMMED = ("requests", "failed", "prompt", "completion", "total", "latency_sum", "latency_count")


def usage_report(*, since: datetime.date, until: datetime.date, by: str, user_id=None) -> dict:
    """Requests and tokens from `since` to `until` (UTC days, both included) per user, model
    alias or both, most tokens first, and their total: one aggregate query. The average latency
    is over the OK requests, as a failed one's wait says little about a provider's speed."""
    start = datetime.datetime.combine(since, datetime.time(), tzinfo=datetime.UTC)
    end = datetime.datetime.combine(until + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC)
    requests = AIRequest.objects.filter(created_at__gte=start, created_at__lt=end)
    if user_id is not None:
        requests = requests.filter(user_id=user_id)
    ok = Q(outcome=AIRequest.Outcome.OK)
    columns = GROUPINGS[by]
    groups = list(
        requests.values(*columns.values())
        .annotate(
            requests=Count("id"),
            failed=Count("id", filter=Q(status__gte=400)),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            total=Sum(F("prompt_tokens") + F("completion_tokens")),
            latency_sum=Sum("latency_ms", filter=ok),
            latency_count=Count("latency_ms", filter=ok),
        )
        .order_by("-total", *columns.values())
    )
    rows = [
        {**{column: group[field] for column, field in columns.items()}, **_figures(group)} for group in groups
    ]
    total = _figures({name: sum(group[name] or 0 for group in groups) for name in SUMMED})
    return {"rows": rows, "total": total}


def _figures(sums: dict) -> dict:
    latency = round(sums["latency_sum"] / sums["latency_count"]) if sums["latency_count"] else None
    return {
        "requests": sums["requests"],
        "failed": sums["failed"],
        "prompt_tokens": sums["prompt"],
        "completion_tokens": sums["completion"],
        "total_tokens": sums["total"],
        "avg_latency_ms": latency,
    }


# Rows deleted per statement: a short transaction each, so the relay's INSERTs never wait long.
PRUNE_BATCH = 5000


def requests_prune(*, older_than: datetime.datetime, dry_run: bool = False) -> int:
    """Deletes the relayed requests' records from before `older_than`, a batch at a time;
    returns how many (would have) gone. The day counters the budgets and totals read stay."""
    old = AIRequest.objects.filter(created_at__lt=older_than)
    if dry_run:
        return old.count()
    deleted = 0
    while batch := list(old.values_list("pk", flat=True)[:PRUNE_BATCH]):
        deleted += AIRequest.objects.filter(pk__in=batch).delete()[0]
    return deleted
