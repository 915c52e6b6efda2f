"""Relay budgets and usage: what a user may still ask for, and what each request cost.

Budgets count requests and tokens per UTC day and month (AI_RELAY_* settings, overridden per
user by an AIBudget). A request is let through while its user is under every budget, and its
tokens are counted when it ends, so the requests in flight at once (at most
AI_RELAY_STREAMS_PER_USER) may go past a budget by their own size: a little inexact, for one
write per request instead of a reservation and a correction.
"""

import datetime

from django.conf import settings
from django.db import connection
from django.db.models import F

from ai_scripts.exceptions import OverBudget, TooManyStreams
from ai_scripts.models import AIBudget, AIRequest, AIUsageDay
from persona.slots import user_slot_release, user_slot_take

# A slot held by a process that died mid-request is freed after this long.
SLOT_SECONDS = 60 * 60
BUDGETS = ("requests_per_day", "requests_per_month", "tokens_per_day", "tokens_per_month")


def budget_default(name: str) -> int:
    """A budget's default for every user, from its AI_RELAY_* setting (0: no limit)."""
    return getattr(settings, f"AI_RELAY_{name.upper()}")


def budget_limits(*, user_id) -> dict[str, int]:
    """The user's budgets: their own where set, the defaults elsewhere (0: no limit)."""
    own = AIBudget.objects.filter(user_id=user_id).values(*BUDGETS).first() or {}
    return _limits(own)


def budget_usage(*, user_id, now: datetime.datetime) -> dict[str, int]:
    """Requests and tokens used today and this month (UTC)."""
    return _usage_and_limits(user_id=user_id, now=now)[0]


def _limits(own: dict) -> dict[str, int]:
    return {name: own[name] if own.get(name) is not None else budget_default(name) for name in BUDGETS}


def _usage_and_limits(*, user_id, now: datetime.datetime) -> tuple[dict[str, int], dict[str, int]]:
    """The usage of today and this month, and the limits, in one query: the month's rows of
    usage, each with the user's own budgets joined on (none: the defaults)."""
    today = now.astimezone(datetime.UTC).date()
    used = dict.fromkeys(BUDGETS, 0)
    own: dict = {}
    budget_fields = {f"own_{name}": F(f"user__ai_budget__{name}") for name in BUDGETS}
    days = AIUsageDay.objects.filter(user_id=user_id, day__gte=today.replace(day=1), day__lte=today)
    tokens = F("prompt_tokens") + F("completion_tokens")
    for row in days.values("day", "requests", tokens=tokens, **budget_fields):
        own = {name: row[f"own_{name}"] for name in BUDGETS}
        used["requests_per_month"] += row["requests"]
        used["tokens_per_month"] += row["tokens"]
        if row["day"] == today:
            used["requests_per_day"] += row["requests"]
            used["tokens_per_day"] += row["tokens"]
    if not own:
        # Nothing used this month: only the budgets, which may still be 0 for this user.
        return used, budget_limits(user_id=user_id)
    return used, _limits(own)


def budget_check(*, user_id, now: datetime.datetime) -> None:
    """Raises OverBudget (429) when the user has used up a budget, naming the one that resets
    last."""
    used, limits = _usage_and_limits(user_id=user_id, now=now)
    for name in ("requests_per_month", "tokens_per_month", "requests_per_day", "tokens_per_day"):
        if limits[name] and used[name] >= limits[name]:
            kind, period = name.split("_per_")
            reset_at = _period_end(now, period)
            periodic = "daily" if period == "day" else "monthly"
            raise OverBudget(
                f"The {periodic} AI {kind} budget ({limits[name]}) is used up; it resets at "
                f"{reset_at:%Y-%m-%d %H:%M} UTC.",
                code=f"{periodic}_{kind}_budget_exceeded",
                reset_at=reset_at,
                retry_after=max(1, int((reset_at - now).total_seconds())),
            )


def relay_slot_take(*, user_id) -> str:
    """One of the user's AI_RELAY_STREAMS_PER_USER places for a request in flight, across every
    instance; TooManyStreams (429) when all are taken. Give it back with relay_slot_release."""
    limit = settings.AI_RELAY_STREAMS_PER_USER
    key = user_slot_take(kind="ai:relay", user_id=user_id, limit=limit, seconds=SLOT_SECONDS)
    if key is None:
        raise TooManyStreams(limit)
    return key


def relay_slot_release(key: str) -> None:
    user_slot_release(key)


# One statement whether or not the day's row exists yet (PostgreSQL and SQLite alike), where
# an UPDATE and a fallback INSERT in a transaction would take up to five round trips.
_COUNT_DAY = (
    "INSERT INTO ai_usage_days (user_id, day, requests, prompt_tokens, completion_tokens)"
    " VALUES (%s, %s, 1, %s, %s)"
    " ON CONFLICT (user_id, day) DO UPDATE SET requests = ai_usage_days.requests + 1,"
    " prompt_tokens = ai_usage_days.prompt_tokens + excluded.prompt_tokens,"
    " completion_tokens = ai_usage_days.completion_tokens + excluded.completion_tokens"
)


def usage_record(*, request: AIRequest) -> None:
    """Counts a finished request against its user's budgets and keeps its record: two
    statements (an upsert of the day's counters, an INSERT), each committed on its own: a
    crash between them loses the record of one request, never a count."""
    day = request.created_at.astimezone(datetime.UTC).date()
    user_id = AIUsageDay._meta.get_field("user").get_db_prep_value(request.user_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_DAY, [user_id, day, request.prompt_tokens, request.completion_tokens])
    request.save(force_insert=True)


def _period_end(now: datetime.datetime, period: str) -> datetime.datetime:
    today = now.astimezone(datetime.UTC).date()
    if period == "day":
        end = today + datetime.timedelta(days=1)
    else:
        end = (today.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    return datetime.datetime.combine(end, datetime.time(), tzinfo=datetime.UTC)
