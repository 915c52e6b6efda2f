"""Django's Redis cache backend, with one redis-py client (and connection pool) per process."""

import threading

from django.core.cache.backends import redis
from django.utils.functional import cached_property

_shared_clients: dict[tuple, "RedisCacheClient"] = {}
_shared_clients_lock = threading.Lock()


class RedisCacheClient(redis.RedisCacheClient):
    """Django builds a new redis.Redis for every cache call, and redis-py fills a table of
    about 170 response callbacks for each one: a third of a millisecond of CPU per request
    that reads the cache twice. A client is thread-safe (its pool hands out the
    connections), so one per pool is kept."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(redis.RedisCache):
    """Django keeps a cache object per thread and, on the ASGI side, per request (its cache
    handler is context-local): each object's client would open connections of its own, one
    or two per request, left for the garbage collector to close. Every cache object of a
    process shares one client per location and options instead."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

    @cached_property
    def _cache(self):
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _shared_clients_lock:
            if key not in _shared_clients:
                _shared_clients[key] = self._class(self._servers, **self._options)
            return _shared_clients[key]
