"""Rate limits: django-ratelimit's counters in the shared cache, answered as DRF errors.

The counters live in Redis when REDIS_URL is set, so every worker and every instance
shares them. When the cache cannot be reached the limited endpoints answer 503: failing
open would switch brute-force protection off exactly when Redis is down.
"""

import ipaddress

from django.conf import settings
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled

from persona.exceptions import ServiceUnavailable


def client_ip(request) -> str:
    """The caller's address: REMOTE_ADDR, or, behind TRUSTED_PROXY_COUNT proxies, the
    X-Forwarded-For entry the outermost trusted proxy added. Entries further left are
    whatever the client sent and are never trusted."""
    remote_addr = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if not hops:
        return remote_addr
    forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(forwarded) < hops:
        return remote_addr
    try:
        return str(ipaddress.ip_address(forwarded[-hops]))
    except ValueError:
        return remote_addr


def rate_limit(request, *, group: str, key: str = "ip") -> None:
    """Counts this request in `group` (rate from settings.RATE_LIMITS) for `key`:
    "ip" for the client address, any other string for itself (e.g. an email).
    Over the limit: 429 with Retry-After."""
    by = key if key == "ip" else lambda _group, _request: key
    try:
        usage = get_usage(request, group=group, key=by, rate=settings.RATE_LIMITS[group], increment=True)
    except RedisError:
        raise ServiceUnavailable("Rate limiting is unavailable; try again later.") from None
    if usage is None:  # RATELIMIT_ENABLE is off
        return
    if usage["time_left"] < 0:  # django-ratelimit's sign that the cache failed
        raise ServiceUnavailable("Rate limiting is unavailable; try again later.")
    if usage["should_limit"]:
        raise Throttled(wait=max(usage["time_left"], 1))
