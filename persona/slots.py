"""Places a user holds at once across every process and instance: one cache key each, added
only if absent (an atomic SET NX in Redis), deleted when given back, and gone by themselves
after `seconds` if the process holding one died."""

from django.core.cache import cache


def user_slot_take(*, kind: str, user_id, limit: int, seconds: int) -> str | None:
    """The key of one of the user's `limit` places of this kind; None when all are taken."""
    for number in range(limit):
        key = f"{kind}:{user_id}:{number}"
        if cache.add(key, True, timeout=seconds):
            return key
    return None


def user_slot_release(key: str) -> None:
    cache.delete(key)
