"""Deployment hardening: HTTPS behind a proxy, security headers, hosts and CORS."""

import pytest

from accounts.models import User
from testing.helpers import PASSWORD

APP_ORIGIN = "https://app.example.com"


def directives(response) -> set[str]:
    return set(response["Content-Security-Policy"].split("; "))


@pytest.fixture
def behind_tls_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True


def test_plain_http_is_redirected_to_https(client, behind_tls_proxy):
    response = client.get("/api/auth/profile")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/api/auth/profile"


def test_api_responses_carry_the_security_headers(alice_client, behind_tls_proxy):
    response = alice_client.get("/api/auth/profile", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert directives(response) == {
        "default-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    }


def test_unknown_routes_are_json_404_with_the_headers(client, behind_tls_proxy):
    response = client.get("/api/unknown", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert "default-src 'none'" in directives(response)


@pytest.mark.django_db
def test_admin_pages_get_a_policy_that_lets_them_load_their_assets(client, behind_tls_proxy):
    staff = User.objects.create_superuser(email="staff@example.com", password=PASSWORD)
    client.force_login(staff)

    response = client.get("/admin/accounts/user/", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    assert {"default-src 'self'", "frame-ancestors 'none'"} <= directives(response)
    assert response["X-Frame-Options"] == "DENY"
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.urls("persona.tests.urls_admin_moved")
def test_the_admin_keeps_its_policy_where_it_is_mounted(client, behind_tls_proxy):
    moved = client.get("/staff/login/", HTTP_X_FORWARDED_PROTO="https")
    old_place = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")

    assert moved.status_code == 200
    assert "default-src 'self'" in directives(moved)
    assert old_place.status_code == 404
    assert "default-src 'none'" in directives(old_place)


def test_a_foreign_host_is_refused_with_400(client):
    assert client.get("/health", HTTP_HOST="attacker.example").status_code == 400


@pytest.fixture
def cors_for_app(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP_ORIGIN]


def preflight(client, origin):
    return client.options(
        "/api/auth/profile",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )


def test_a_preflight_with_authorization_works_for_an_allowed_origin(client, cors_for_app):
    response = preflight(client, APP_ORIGIN)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "authorization" in response["Access-Control-Allow-Headers"]


def test_a_foreign_origin_gets_no_cors_headers(client, alice_client, cors_for_app):
    assert "Access-Control-Allow-Origin" not in preflight(client, "https://evil.example")
    response = alice_client.get("/api/auth/profile", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
