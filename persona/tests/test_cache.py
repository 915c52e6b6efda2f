"""The Redis cache backend keeps one redis-py client, and so one connection pool, per process."""

import contextvars

import pytest
import redis
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient

from persona.cache import RedisCache, RedisCacheClient

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis; set REDIS_URL to run it")


def test_every_cache_call_gets_the_same_client_of_the_pool():
    cache_client = RedisCacheClient(["redis://127.0.0.1:6379/0"])

    client = cache_client.get_client()

    assert cache_client.get_client(write=True) is client
    assert client.connection_pool is cache_client._get_connection_pool(write=True)


def test_every_cache_object_of_a_location_shares_one_client():
    """Django makes a cache object per thread and per ASGI request."""
    first = RedisCache("redis://127.0.0.1:6379/0", {"OPTIONS": {"socket_timeout": 2}})
    second = RedisCache("redis://127.0.0.1:6379/0", {"OPTIONS": {"socket_timeout": 2}})
    elsewhere = RedisCache("redis://127.0.0.1:6379/1", {"OPTIONS": {"socket_timeout": 2}})

    assert first._cache is second._cache
    assert first._cache.get_client() is second._cache.get_client()
    assert elsewhere._cache is not first._cache


@needs_redis
@pytest.mark.django_db
def test_requests_on_the_asgi_side_open_no_new_redis_connections():
    """Each ASGI request has a cache object of its own (caches are context-local); they share
    the process's connections. The AI health report is read from the cache."""
    server = redis.Redis.from_url(settings.REDIS_URL)

    async def health():
        assert (await AsyncClient().get("/api/ai/health")).status_code == 200

    def request_in_a_fresh_context():
        # As the ASGI server runs each request: in a context of its own, where Django has
        # no cache object yet.
        contextvars.Context().run(async_to_sync(health))

    request_in_a_fresh_context()
    before = server.info("stats")["total_connections_received"]
    for _ in range(20):
        request_in_a_fresh_context()

    # This test's own connection is the one new one.
    assert server.info("stats")["total_connections_received"] <= before + 1
    server.close()
