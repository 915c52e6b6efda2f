"""Rate limits on every endpoint that checks a password or hands out tokens."""

import pytest

from accounts.models import User
from testing.helpers import PASSWORD

LOGIN = "/api/auth/login"
HOUR = 3600


@pytest.fixture
def clock(monkeypatch):
    """The limiter's clock, set to the start of an hour-long window and moved by hand."""

    class Clock:
        now = 1_000 * HOUR

        def advance(self, seconds):
            self.now += seconds

    clock = Clock()
    monkeypatch.setattr("persona.ratelimit.time.time", lambda: clock.now)
    return clock


@pytest.fixture
def tight_limits(settings, clock):
    settings.RATE_LIMITS = {
        "login-ip": "3/h",
        "login-email": "5/h",
        "password-user": "3/h",
        "register-ip": "2/h",
        "refresh-ip": "2/h",
        "verify-ip": "2/h",
        "backup-user": "2/h",
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


def guess(client, attempts, *, email="alice@example.com"):
    """Wrong passwords for one account, each from another address."""
    return [login(client, email=email, REMOTE_ADDR=f"10.9.0.{n}").status_code for n in range(attempts)]


def test_a_burst_across_a_window_boundary_cannot_reach_twice_the_limit(
    api_client, alice, tight_limits, clock
):
    clock.advance(HOUR - 1)
    assert guess(api_client, 5) == [401] * 5

    clock.advance(2)  # the next window
    limited = login(api_client, password=PASSWORD, REMOTE_ADDR="10.9.1.1")

    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= HOUR


def test_the_limit_opens_again_when_the_guesses_slide_out_of_the_period(
    api_client, alice, tight_limits, clock
):
    assert guess(api_client, 5) == [401] * 5
    limited = login(api_client, REMOTE_ADDR="10.9.1.1")
    assert limited.status_code == 429

    clock.advance(int(limited["Retry-After"]))

    assert login(api_client, password=PASSWORD, REMOTE_ADDR="10.9.1.2").status_code == 200


def test_a_request_in_a_windows_last_second_is_counted_not_refused(api_client, alice, tight_limits, clock):
    clock.advance(HOUR - 0.5)

    assert guess(api_client, 3) == [401] * 3


def test_right_passwords_do_not_count_against_the_account(api_client, alice, tight_limits):
    statuses = [login(api_client, password=PASSWORD, REMOTE_ADDR=f"10.9.2.{n}").status_code for n in range(8)]

    assert statuses == [200] * 8
    assert guess(api_client, 5) == [401] * 5


# The admin's sign-in form: the same limits, the same counters.


def admin_login(client, password="wrong password", **extra):
    return client.post("/admin/login/", {"username": "alice@example.com", "password": password}, **extra)


@pytest.fixture
def staff_alice(alice):
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    return alice


def test_the_admin_sign_in_is_limited_per_address(client, staff_alice, tight_limits):
    for _ in range(3):
        assert admin_login(client).status_code == 200  # the form again, with an error

    limited = admin_login(client, password=PASSWORD)

    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1
    assert "_auth_user_id" not in client.session


def test_guesses_through_the_api_lock_the_admin_sign_in_of_that_account(
    api_client, client, staff_alice, tight_limits
):
    assert guess(api_client, 5) == [401] * 5

    limited = admin_login(client, password=PASSWORD, REMOTE_ADDR="10.9.3.1")

    assert limited.status_code == 429
    assert b"Request was throttled" in limited.content
    assert "_auth_user_id" not in client.session


def test_guesses_through_the_admin_count_for_the_api(api_client, client, staff_alice, tight_limits):
    for n in range(5):
        admin_login(client, REMOTE_ADDR=f"10.9.4.{n}")

    assert login(api_client, password=PASSWORD, REMOTE_ADDR="10.9.4.9").status_code == 429


def test_the_admin_signs_in_below_the_limits(client, staff_alice, tight_limits):
    response = admin_login(client, password=PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff_alice.pk)


def test_the_admin_sign_in_is_a_503_when_the_limits_cannot_be_checked(client, staff_alice, redis_down):
    response = admin_login(client, password=PASSWORD)

    assert response.status_code == 503
    assert "_auth_user_id" not in client.session


# Password confirmations by a signed-in user: a stolen access token must not become a way
# to guess the password.


def change_password(client, old, **extra):
    body = {"old_password": old, "new_password": "an entirely new passphrase"}
    return client.post("/api/auth/password", body, format="json", **extra)


def test_password_change_guesses_are_limited_per_account(alice_client, alice, tight_limits):
    statuses = [
        change_password(alice_client, "guess", REMOTE_ADDR=f"10.9.5.{n}").status_code for n in range(3)
    ]

    limited = change_password(alice_client, PASSWORD, REMOTE_ADDR="10.9.5.9")

    assert statuses == [400] * 3
    assert limited.status_code == 429
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_account_deletion_guesses_are_limited_per_account_on_both_routes(alice_client, alice, tight_limits):
    def delete(password, n):
        return alice_client.post(
            "/api/auth/profile/delete", {"password": password}, format="json", REMOTE_ADDR=f"10.9.6.{n}"
        ).status_code

    statuses = [delete("guess", n) for n in range(3)]
    old_route = alice_client.delete(
        "/api/auth/profile", {"password": PASSWORD}, format="json", REMOTE_ADDR="10.9.6.8"
    )

    assert statuses == [400] * 3
    assert old_route.status_code == 429
    assert delete(PASSWORD, 9) == 429
    assert User.objects.filter(pk=alice.pk).exists()


def test_password_checks_from_one_address_share_one_limit(alice_client, api_client, alice, bob, tight_limits):
    assert login(api_client, email="bob@example.com").status_code == 401
    assert change_password(alice_client, "guess").status_code == 400
    assert login(api_client).status_code == 401

    assert change_password(alice_client, PASSWORD).status_code == 429


def test_the_owner_of_an_account_under_attack_keeps_their_devices_and_can_change_the_password(
    api_client, client_for, alice, tokens_for, tight_limits
):
    phone = tokens_for(alice, device_id="phone")
    assert guess(api_client, 6) == [401] * 5 + [429]

    still_signed_in = api_client.get("/api/sync/status", HTTP_AUTHORIZATION=f"Bearer {phone['access']}")
    refreshed = api_client.post("/api/auth/refresh", {"refresh": phone["refresh"]}, format="json")
    changed = change_password(client_for(alice), PASSWORD, REMOTE_ADDR="10.9.7.1")

    assert still_signed_in.status_code == 200
    assert refreshed.status_code == 200
    assert changed.status_code == 200
    alice.refresh_from_db()
    assert alice.check_password("an entirely new passphrase")
