import pytest

from accounts.models import User
from persona.testing import PASSWORD

LOGIN = "/api/auth/login"


@pytest.fixture
def tight_limits(settings):
    # Hour-long windows: a test never straddles a window boundary, which would reset counts.
    settings.RATE_LIMITS = {
        "login-ip": "3/h",
        "login-email": "5/h",
        "register-ip": "2/h",
        "refresh-ip": "2/h",
        "verify-ip": "2/h",
    }


def login(client, email="alice@example.com", password="wrong password", **extra):
    return client.post(LOGIN, {"email": email, "password": password}, format="json", **extra)


def test_brute_force_from_one_ip_gets_429_even_with_the_right_password(api_client, alice, tight_limits):
    for _ in range(3):
        assert login(api_client).status_code == 401

    limited = login(api_client, password=PASSWORD)

    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1
    assert limited.json()["detail"].startswith("Request was throttled.")


def test_one_account_attacked_from_rotating_ips_gets_429(api_client, alice, tight_limits):
    for attempt in range(5):
        assert login(api_client, REMOTE_ADDR=f"10.0.0.{attempt}").status_code == 401

    limited = login(api_client, password=PASSWORD, REMOTE_ADDR="10.0.0.99")

    assert limited.status_code == 429
    assert "Retry-After" in limited
    other_account = login(api_client, email="bob@example.com", REMOTE_ADDR="10.0.0.98")
    assert other_account.status_code == 401


def test_the_email_bucket_ignores_case_and_spaces(api_client, alice, tight_limits):
    for attempt, email in enumerate(["alice@example.com", "ALICE@example.com", " Alice@Example.COM "] * 2):
        response = login(api_client, email=email, REMOTE_ADDR=f"10.0.1.{attempt}")

    assert response.status_code == 429


def test_a_spoofed_x_forwarded_for_does_not_reset_the_bucket(api_client, alice, tight_limits):
    for attempt in range(3):
        login(api_client, HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}")

    assert login(api_client, HTTP_X_FORWARDED_FOR="203.0.113.200").status_code == 429


def test_behind_a_trusted_proxy_only_the_proxys_entry_counts(api_client, alice, tight_limits, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for attempt in range(3):
        login(api_client, HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}, 192.0.2.7")

    assert login(api_client, HTTP_X_FORWARDED_FOR="198.51.100.50, 192.0.2.7").status_code == 429
    assert login(api_client, HTTP_X_FORWARDED_FOR="192.0.2.8").status_code == 401


@pytest.mark.django_db
def test_registration_is_limited_per_ip(api_client, tight_limits):
    body = {"password": "a sturdy passphrase 42"}
    for number in range(2):
        response = api_client.post(
            "/api/auth/register", {**body, "email": f"u{number}@example.com"}, format="json"
        )
        assert response.status_code == 201

    limited = api_client.post("/api/auth/register", {**body, "email": "u9@example.com"}, format="json")

    assert limited.status_code == 429
    assert not User.objects.filter(email="u9@example.com").exists()


@pytest.mark.parametrize(("url", "field"), [("/api/auth/refresh", "refresh"), ("/api/auth/verify", "token")])
def test_refresh_and_verify_are_limited_per_ip(api_client, alice, tokens_for, tight_limits, url, field):
    statuses = [api_client.post(url, {field: "garbage"}, format="json").status_code for _ in range(3)]

    assert statuses == [401, 401, 429]


@pytest.fixture
def redis_down(settings):
    # Nothing listens on loopback port 9: every cache call fails at once.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }


def test_limited_endpoints_answer_503_when_redis_is_down(api_client, alice, redis_down):
    response = login(api_client, password=PASSWORD)

    assert response.status_code == 503
    assert response.json() == {"detail": "Rate limiting is unavailable; try again later."}


@pytest.mark.django_db
def test_registration_stores_nothing_when_redis_is_down(api_client, redis_down):
    body = {"email": "carol@example.com", "password": "a sturdy passphrase 42"}

    assert api_client.post("/api/auth/register", body, format="json").status_code == 503
    assert User.objects.count() == 0
