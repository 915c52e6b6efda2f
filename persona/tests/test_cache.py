"""The Redis cache backend keeps one redis-py client per connection pool."""

from persona.cache import RedisCacheClient


def test_every_cache_call_gets_the_same_client_of_the_pool():
    cache_client = RedisCacheClient(["redis://127.0.0.1:6379/0"])

    client = cache_client.get_client()

    assert cache_client.get_client(write=True) is client
    assert client.connection_pool is cache_client._get_connection_pool(write=True)
