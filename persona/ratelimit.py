"""Rate limits: sliding-window counters in the shared cache, answered as DRF errors.

A limit is "count/period" (settings.RATE_LIMITS). Each request is counted in the current
fixed window of its period and weighed together with the previous window's count, scaled by
how much of that window still lies within the last period. Unlike plain fixed windows, a
burst across a window boundary cannot reach twice the limit; the estimate is a little
inexact when requests bunch up inside a window, which is fine for a brute-force guard.

The counters live in Redis when REDIS_URL is set, so every worker and every instance
shares them. When the cache cannot be reached the limited endpoints answer 503: failing
open would switch brute-force protection off exactly when Redis is down.
"""

import contextlib
import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled

from persona.exceptions import ServiceUnavailable
from persona.rates import parse_rate


def client_ip(request) -> str:
    """The caller's address: REMOTE_ADDR, or, behind TRUSTED_PROXY_COUNT proxies, the
    X-Forwarded-For entry the outermost trusted proxy added (see forwarded_client_ip)."""
    return forwarded_client_ip(
        request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", "")
    )


def forwarded_client_ip(remote_addr: str, forwarded_for: str) -> str:
    """The client's address for a connection from `remote_addr` carrying `forwarded_for` (the
    X-Forwarded-For header). Entries left of those the TRUSTED_PROXY_COUNT proxies added are
    whatever the client sent and are never trusted."""
    hops = settings.TRUSTED_PROXY_COUNT
    if not hops:
        return remote_addr
    forwarded = [entry.strip() for entry in forwarded_for.split(",")]
    if len(forwarded) < hops:
        return remote_addr
    try:
        return str(ipaddress.ip_address(forwarded[-hops]))
    except ValueError:
        return remote_addr


@dataclass(frozen=True)
class Attempt:
    """A request counted against a limit."""

    counter: str | None

    def refund(self) -> None:
        """Takes the request back out of the count: a right password is not a guess."""
        if self.counter is not None:
            with contextlib.suppress(ValueError, RedisError):
                cache.decr(self.counter)


def rate_limit(request, *, group: str, key: str = "ip") -> Attempt:
    """Counts this request in `group` for `key`: "ip" for the client address, any other
    string for itself (an email, a user id). Over the limit: 429 with Retry-After."""
    if not settings.RATELIMIT_ENABLE:
        return Attempt(counter=None)
    limit, period = parse_rate(settings.RATE_LIMITS[group])
    who = client_ip(request) if key == "ip" else key
    bucket = hashlib.sha256(f"{group}\0{who}".encode()).hexdigest()[:32]
    window, elapsed = divmod(time.time(), period)
    counter = f"ratelimit:{bucket}:{int(window)}"
    try:
        cache.add(counter, 0, timeout=2 * period)
        count = cache.incr(counter)
        previous = cache.get(f"ratelimit:{bucket}:{int(window) - 1}", 0)
    except RedisError:
        raise ServiceUnavailable("Rate limiting is unavailable; try again later.") from None
    if previous * (1 - elapsed / period) + count > limit:
        raise Throttled(wait=_seconds_until_allowed(limit, period, elapsed, previous, count))
    return Attempt(counter=counter)


def _seconds_until_allowed(limit: int, period: int, elapsed: float, previous: int, count: int) -> int:
    """When one more request would be within the limit, if nothing else is counted meanwhile."""
    if count < limit and previous:
        # Still in this window, once enough of the previous one has slid out.
        wait = (1 - (limit - count - 1) / previous) * period - elapsed
    else:
        # In the next window, once enough of this one has slid out.
        wait = period - elapsed + max(0.0, 1 - (limit - 1) / count) * period
    return max(1, math.ceil(wait))
