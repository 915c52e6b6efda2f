from datetime import datetime

import pytest
from django.db import OperationalError

URL = "/health"


def test_health_says_ok(client):
    response = client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "message", "timestamp", "uptime"}
    assert body["status"] == "OK"
    assert body["message"] == "Persona Backend - Ultra-lightweight server"
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    assert body["uptime"] >= 0


@pytest.mark.django_db
def test_ready_is_200_when_the_database_answers(client, settings):
    response = client.get("/health/ready")

    assert response.status_code == 200
    expected = {"database": "ok", "cache": "ok"} if settings.REDIS_URL else {"database": "ok"}
    assert response.json() == {"status": "ready", "checks": expected}


@pytest.mark.django_db
def test_ready_is_503_when_the_database_fails(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("persona.views.connection.cursor", broken_cursor)

    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "error"


@pytest.mark.django_db
def test_ready_is_503_when_the_shared_cache_is_unreachable(client, settings):
    # Port 9 on loopback: nothing listens, so Redis refuses at once.
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
        }
    }

    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "cache": "error"}}


def test_health_needs_no_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get(URL).status_code == 200
    assert client.get("/api/auth/profile").status_code == 301


@pytest.mark.django_db
@pytest.mark.parametrize("url", [URL, "/health/ready"])
def test_the_probes_answer_head_and_refuse_other_methods_with_json_405(client, url):
    assert client.head(url).status_code == 200
    response = client.post(url)

    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "POST" not allowed.'}
