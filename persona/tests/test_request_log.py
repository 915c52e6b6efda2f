import json
import logging

import pytest

from persona.logging import JsonFormatter
from testing.helpers import PASSWORD


def request_records(caplog):
    return [record for record in caplog.records if record.name == "persona.requests"]


def test_every_response_gets_a_generated_request_id(client):
    first = client.get("/health")
    second = client.get("/health")

    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_well_formed_request_id_from_the_proxy_is_kept(client):
    response = client.get("/health", HTTP_X_REQUEST_ID="lb-1234.abc_DEF")

    assert response["X-Request-ID"] == "lb-1234.abc_DEF"


@pytest.mark.parametrize("bad", ["has spaces", "x" * 129, "new\nline", "<script>"])
def test_a_malformed_request_id_is_replaced(client, bad):
    response = client.get("/health", HTTP_X_REQUEST_ID=bad)

    assert response["X-Request-ID"] != bad
    assert len(response["X-Request-ID"]) == 32


def test_a_request_is_logged_with_its_user_and_nothing_secret(api_client, alice, tokens_for, caplog):
    pair = tokens_for(alice)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    caplog.set_level(logging.INFO, logger="persona.requests")

    response = api_client.post(
        "/api/auth/password?token=query-secret",
        {"old_password": PASSWORD, "new_password": "another sturdy passphrase"},
        format="json",
    )

    assert response.status_code == 200
    [record] = request_records(caplog)
    line = json.loads(JsonFormatter().format(record))
    assert {key: line[key] for key in ("message", "method", "path", "status", "user_id", "request_id")} == {
        "message": "request",
        "method": "POST",
        "path": "/api/auth/password",
        "status": 200,
        "user_id": str(alice.id),
        "request_id": response["X-Request-ID"],
    }
    assert line["duration_ms"] >= 0
    logged = json.dumps(line)
    for secret in (PASSWORD, "another sturdy passphrase", pair["access"], "query-secret"):
        assert secret not in logged


@pytest.mark.django_db
def test_anonymous_requests_are_logged_without_a_user(client, caplog):
    caplog.set_level(logging.INFO, logger="persona.requests")

    client.get("/api/nothing-here")

    [record] = request_records(caplog)
    assert (record.status, record.user_id) == (404, None)
