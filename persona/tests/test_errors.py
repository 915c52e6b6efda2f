import pytest
from django.test import Client
from django.urls import path

from persona.urls import handler500  # noqa: F401 (this test urlconf uses the project's handler)
from persona.urls import urlpatterns as project_urls


def explode(request):
    raise RuntimeError("secret internals")


urlpatterns = [path("boom", explode), *project_urls]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/nope", "/api/auth/nope", "/api/auth/profile/extra/"])
def test_unknown_api_paths_are_json_404(client, url):
    response = client.get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_unknown_api_paths_are_json_404_also_with_debug(client, settings):
    settings.DEBUG = True

    response = client.post("/api/nope")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_unknown_api_paths_are_json_404_for_unsafe_methods_without_a_csrf_token():
    response = Client(enforce_csrf_checks=True).delete("/api/sync/backup/0.5")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_malformed_json_is_400(client):
    response = client.post("/api/auth/login", '{"email": ', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.django_db
def test_non_json_bodies_are_415(client):
    response = client.post("/api/auth/login", "email=a&password=b", content_type="text/plain")

    assert response.status_code == 415
    assert response.json()["detail"] == 'Unsupported media type "text/plain" in request.'


@pytest.mark.django_db
def test_wrong_methods_are_405(client):
    response = client.get("/api/auth/login")

    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "GET" not allowed.'}


@pytest.mark.urls(__name__)
def test_server_errors_are_json_without_a_traceback(client):
    client.raise_request_exception = False

    response = client.get("/boom")

    assert response.status_code == 500
    assert response.json() == {"detail": "Server error."}
    assert b"secret internals" not in response.content


def test_a_foreign_host_is_a_json_400(client):
    response = client.get("/health", HTTP_HOST="evil.example.com")

    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request."}


@pytest.mark.django_db
def test_absurdly_deep_json_is_400(client):
    body = "[" * 100_000 + "]" * 100_000

    response = client.post("/api/auth/login", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - nesting is too deep."}


def test_absurdly_deep_json_is_400_on_the_backup_upload_too(alice_client):
    body = "[" * 100_000 + "]" * 100_000

    response = alice_client.post("/api/sync/backup", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - nesting is too deep."}


def test_an_enormous_body_is_413(alice_client, settings):
    body = '{"device_id": "' + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + '"}'

    response = alice_client.post("/api/sync/status", body, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large."}
