"""Stateless app servers: two instances share one database and one Redis, so a client
hopping between them meets one rate limit and one set of tokens."""

import pytest
from django.conf import settings
from django.db import connection

from testing.helpers import PASSWORD, http, live_gunicorn, postgres_only

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis; set REDIS_URL to run it")


@postgres_only
@needs_redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.real_hasher  # the servers only know the production hashers
def test_two_instances_share_one_rate_limit_and_one_session(alice):
    db = connection.settings_dict
    env = {
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "RATELIMIT_LOGIN_IP": "4/h",
    }
    with live_gunicorn(**env) as (_, first), live_gunicorn(**env) as (_, second):
        body = {"email": "alice@example.com", "password": PASSWORD}
        statuses = [http("POST", f"{base}/api/auth/login", body)[0] for base in (first, second) * 2]
        assert statuses == [200, 200, 200, 200]
        assert http("POST", f"{first}/api/auth/login", body)[0] == 429
        assert http("POST", f"{second}/api/auth/login", body)[0] == 429

        _, _, tokens = http("POST", f"{first}/api/auth/register", {**body, "email": "carol@example.com"})
        bearer = {"Authorization": f"Bearer {tokens['access']}"}
        assert http("GET", f"{second}/api/auth/profile", headers=bearer)[0] == 200
        assert http("POST", f"{second}/api/auth/logout-all", headers=bearer)[0] == 205
        assert http("GET", f"{first}/api/auth/profile", headers=bearer)[0] == 401
