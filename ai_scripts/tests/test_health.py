import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from ai_scripts import services
from ai_scripts.models import AIService
from testing.helpers import run_concurrently

URL = "/api/ai/health"


@pytest.fixture
def service(db):
    def make(name, server, *, timeout=1.0, enabled=True):
        return AIService.objects.create(
            name=name, health_url=server.url, timeout_seconds=timeout, enabled=enabled
        )

    return make


@pytest.fixture
def healthy(upstream):
    return upstream(status=200)


@pytest.fixture
def broken(upstream):
    return upstream(status=500)


@pytest.fixture
def slow(upstream):
    # Answers long after the 0.2 s timeout its service is given below.
    return upstream(status=200, delay=1.0)


def statuses(response):
    return {item["name"]: item["status"] for item in response.json()["services"]}


def test_it_is_ok_when_every_service_is_up(api_client, service, healthy, make_script):
    service("chat", healthy)
    service("embeddings", healthy)
    make_script("greeting")
    make_script("hidden", is_active=False)

    response = api_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["active_scripts"] == 1
    assert [item["name"] for item in body["services"]] == ["chat", "embeddings"]
    for item in body["services"]:
        assert set(item) == {"name", "status", "latency_ms", "provider"}
        assert item["provider"] is False
        assert item["status"] == "up"
        assert isinstance(item["latency_ms"], int)
    assert healthy.hits == 2


def test_it_is_ok_when_no_service_is_configured(api_client, db):
    response = api_client.get(URL)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "services": [], "models": [], "active_scripts": 0}


def test_it_is_degraded_when_some_services_are_down(api_client, service, healthy, broken, slow):
    service("chat", healthy)
    service("embeddings", broken)
    service("vision", slow, timeout=0.2)

    response = api_client.get(URL)

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert statuses(response) == {"chat": "up", "embeddings": "down", "vision": "down"}
    latencies = {item["name"]: item["latency_ms"] for item in response.json()["services"]}
    assert isinstance(latencies["embeddings"], int)
    assert latencies["vision"] is None


def test_it_is_down_with_503_when_every_service_is_down(api_client, service, broken, slow):
    service("embeddings", broken)
    service("vision", slow, timeout=0.2)

    response = api_client.get(URL)

    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert statuses(response) == {"embeddings": "down", "vision": "down"}


def test_an_unreachable_service_is_down(api_client, service, upstream):
    closed = upstream(status=200)
    closed.shutdown()
    closed.server_close()
    service("gone", closed)

    response = api_client.get(URL)

    assert response.status_code == 503
    assert response.json()["services"] == [
        {"name": "gone", "status": "down", "latency_ms": None, "provider": False}
    ]


def test_disabled_services_are_not_probed(api_client, service, healthy, broken):
    service("chat", healthy)
    service("retired", broken, enabled=False)

    response = api_client.get(URL)

    assert response.status_code == 200
    assert statuses(response) == {"chat": "up"}
    assert broken.hits == 0


def test_it_probes_concurrently_within_the_timeouts(api_client, service, upstream):
    servers = [upstream(status=200, delay=1.0) for _ in range(5)]
    for number, server in enumerate(servers):
        service(f"slow-{number}", server, timeout=0.2)

    response = api_client.get(URL)

    assert response.status_code == 503
    # Every probe was sent: one after another, five 0.2 s timeouts would run past the call's
    # deadline (longest timeout + 0.5 s) and the last ones would never start.
    assert [server.hits for server in servers] == [1, 1, 1, 1, 1]


def test_the_answer_never_reveals_urls_or_keys(api_client, service, healthy, broken):
    service("chat", healthy)
    service("embeddings", broken)

    response = api_client.get(URL)

    assert response.status_code == 200
    assert b"127.0.0.1" not in response.content
    assert b"s3cret-key" not in response.content


def test_results_are_cached_so_upstreams_are_not_hammered(api_client, service, healthy, settings):
    settings.AI_HEALTH_CACHE_SECONDS = 30
    service("chat", healthy)

    first = api_client.get(URL)
    healthy.status = 500
    second = api_client.get(URL)
    cache.clear()
    third = api_client.get(URL)

    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 503)
    assert first.json() == second.json()
    assert healthy.hits == 2


def test_it_needs_no_token_and_ignores_a_bad_one(api_client, db):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")

    response = api_client.get(URL)

    assert response.status_code == 200


def test_it_is_read_only(api_client, db):
    assert api_client.post(URL, {}, format="json").status_code == 405


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/health", "http://127.0.0.1:99999/health", "http:///nohost"])
def test_a_malformed_url_saved_past_validation_is_down(api_client, db, url):
    AIService.objects.create(name="odd", health_url=url, timeout_seconds=0.2)

    response = api_client.get(URL)

    assert response.status_code == 503
    assert response.json()["services"] == [
        {"name": "odd", "status": "down", "latency_ms": None, "provider": False}
    ]


@pytest.mark.django_db(transaction=True)
def test_when_the_report_is_stale_one_request_probes_and_the_others_get_the_last_report(
    service, upstream, settings
):
    server = upstream(status=200)
    service("chat", server, timeout=3.0)
    assert statuses(APIClient().get(URL)) == {"chat": "up"}
    settings.AI_HEALTH_CACHE_SECONDS = 0
    server.delay = 1.0  # the upstream now hangs for a while

    responses = run_concurrently(*[lambda: APIClient().get(URL) for _ in range(8)])

    assert [response.status_code for response in responses] == [200] * 8
    assert all(statuses(response) == {"chat": "up"} for response in responses)
    assert server.hits == 2


def test_it_is_a_503_with_retry_after_when_the_cache_is_down(api_client, service, healthy, settings):
    service("chat", healthy)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }

    response = api_client.get(URL)

    assert response.status_code == 503
    assert response.json() == {"detail": "The cache is unavailable; try again later."}
    assert response["Retry-After"] == "5"
    assert healthy.hits == 0


def test_before_any_report_exists_a_request_during_the_first_probe_is_told_to_retry(
    api_client, service, healthy
):
    service("chat", healthy)
    cache.add(services.PROBING_KEY, True, timeout=10)  # another request is probing

    response = api_client.get(URL)

    assert response.status_code == 503
    assert response.json() == {"detail": "The AI services are being checked; try again in a moment."}
    assert response["Retry-After"] == "1"
    assert healthy.hits == 0


def test_it_reports_the_relays_providers_and_models(api_client, make_provider, make_alias, monkeypatch):
    """A provider without a health URL is probed at its /models with its key; the key and the
    URLs are never shown."""
    good = make_provider("primary")
    monkeypatch.setenv("PERSONA_TEST_WRONG_KEY", "sk-wrong")
    refused = make_provider("refused", api_key_env="PERSONA_TEST_WRONG_KEY")
    make_alias("persona-chat", routes=[(refused, "gpt-4o"), (good, "gpt-4o-mini")])
    make_alias("persona-strict", routes=[(refused, "gpt-4o")])
    make_alias("persona-off", routes=[(good, "gpt-4o")], enabled=False)

    response = api_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert [(item["name"], item["status"], item["provider"]) for item in body["services"]] == [
        ("primary", "up", True),
        ("refused", "down", True),
    ]
    assert body["models"] == [
        {"id": "persona-chat", "status": "up"},
        {"id": "persona-strict", "status": "down"},
    ]
    assert "127.0.0.1" not in response.content.decode()
    assert "sk-" not in response.content.decode()
