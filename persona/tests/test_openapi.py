"""The OpenAPI schema is complete enough to generate a client from: every operation has a
summary, an example and its error answers, and the shapes match what the server sends."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def bodies(operation) -> list[dict]:
    """The media-type objects of the request body and the success responses, but raw bytes
    (backup uploads and downloads), which an example cannot show."""
    parts = [operation.get("requestBody", {})]
    parts += [response for status, response in operation["responses"].items() if status.startswith("2")]
    media = [media for part in parts for media in part.get("content", {}).values()]
    return [one for one in media if one.get("schema", {}).get("format") != "binary"]


def test_every_operation_has_a_summary(schema):
    assert [name for name, operation in operations(schema) if not operation.get("summary")] == []


def test_every_operation_with_a_body_has_an_example(schema):
    missing = [
        name
        for name, operation in operations(schema)
        if bodies(operation) and not any("examples" in media for media in bodies(operation))
    ]
    assert missing == []


def test_every_protected_operation_documents_401(schema):
    """Protected: a token is required. An operation a token only refines (`{}` among its
    security requirements, the app configuration) answers without one and never says 401."""
    with_token = [
        (name, operation)
        for name, operation in operations(schema)
        if {"bearerAuth": []} in operation["security"]
    ]
    missing = [
        name
        for name, operation in with_token
        if {} not in operation["security"] and "401" not in operation["responses"]
    ]
    optional = [name for name, operation in with_token if {} in operation["security"]]
    assert missing == []
    assert optional == ["GET /api/config/app-config"]


def test_every_operation_but_liveness_documents_503_for_a_database_outage(schema):
    missing = [name for name, operation in operations(schema) if "503" not in operation["responses"]]

    assert missing == ["GET /health"]


def test_the_health_probes_are_public_and_documented(schema):
    assert schema["paths"]["/health"]["get"]["security"] == [{}]
    ready = schema["paths"]["/health/ready"]["get"]
    assert ready["security"] == [{}]
    assert set(ready["responses"]) == {"200", "503"}


def test_every_operation_taking_a_body_documents_413(schema):
    missing = [
        name
        for name, operation in operations(schema)
        if "requestBody" in operation and "413" not in operation["responses"]
    ]
    assert missing == []


def test_the_rate_limited_operations_document_429_with_retry_after_and_503(schema):
    for operation_id in ("auth_register", "auth_login", "auth_verify", "auth_refresh"):
        operation = next(op for _, op in operations(schema) if op["operationId"] == operation_id)
        assert operation["responses"]["429"]["headers"]["Retry-After"]["required"] is True
        assert "503" in operation["responses"]


def test_ai_health_answers_one_object_not_a_list(schema):
    ok = schema["paths"]["/api/ai/health"]["get"]["responses"]["200"]

    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AIHealth"}


def test_a_device_id_in_a_report_may_not_contain_a_slash(schema):
    pattern = schema["components"]["schemas"]["SyncReportRequest"]["properties"]["device_id"]["pattern"]

    assert re.search(pattern, "pixel-8.home")
    assert not re.search(pattern, "pixel/8")


def test_deleting_the_account_is_documented_as_a_post_with_the_password(schema):
    operation = schema["paths"]["/api/auth/profile/delete"]["post"]
    body = operation["requestBody"]

    # The older DELETE /api/auth/profile still works but is left out: a body on DELETE is
    # what OpenAPI tools and generated clients handle badly.
    assert set(schema["paths"]["/api/auth/profile"]) == {"get"}
    assert operation["operationId"] == "auth_delete_account"
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PasswordRequest"}


def test_an_empty_backup_payload_is_invalid_in_the_schema_as_on_the_server(schema):
    payload = schema["components"]["schemas"]["BackupUploadRequest"]["properties"]["encrypted_data"]

    assert payload == {"type": "string", "minLength": 1, "pattern": "^[^\\u0000]*$"}


def request_strings(schema):
    for name, component in schema["components"]["schemas"].items():
        if name.endswith("Request"):
            for field, property_schema in component.get("properties", {}).items():
                if property_schema.get("type") == "string" and property_schema.get("format") != "date-time":
                    yield f"{name}.{field}", property_schema


def test_every_string_the_server_takes_refuses_nul_characters_in_the_schema(schema):
    strings = dict(request_strings(schema))

    assert len(strings) == 18
    assert all(not re.search(s["pattern"], "a\x00b") for s in strings.values()), strings


@pytest.mark.parametrize(
    "field",
    [
        "TokenRequest.token",
        "RefreshRequest.refresh",
        "SyncReportRequest.device_id",
        "SyncReportRequest.data_hash",
    ],
)
def test_a_whitespace_only_string_is_refused_in_the_schema_as_on_the_server(schema, field):
    pattern = dict(request_strings(schema))[field]["pattern"]

    for blank in ["   ", "\x1c", "\x85", "\u3000", "\t\n"]:
        assert not re.search(pattern, blank), repr(blank)
    assert re.search(pattern, "x")


def test_every_400_is_the_one_validation_error_component(schema):
    """But the AI relay's, which are in OpenAI's error shape for the OpenAI SDKs."""
    bad_requests = [
        operation["responses"]["400"]["content"]["application/json"]["schema"]
        for name, operation in operations(schema)
        if "400" in operation["responses"] and "/api/ai/v1/" not in name
    ]

    # The 9 bodies, the two paginated lists, and the two tus requests' headers.
    assert len(bad_requests) == 13
    assert all(body == {"$ref": "#/components/schemas/ValidationError"} for body in bad_requests)
