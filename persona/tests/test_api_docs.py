import re

import yaml
from django.core.cache import caches
from drf_spectacular.generators import SchemaGenerator


def test_the_schema_is_openapi_3_in_yaml_and_json(client):
    as_yaml = client.get("/api/schema")
    as_json = client.get("/api/schema", {"format": "json"})

    assert as_yaml.status_code == 200
    assert yaml.safe_load(as_yaml.content)["openapi"].startswith("3.")
    assert as_json.status_code == 200
    assert as_json.json()["info"]["title"] == "Persona Backend API"


def test_the_schema_declares_the_bearer_scheme_and_protects_the_profile(client):
    schema = client.get("/api/schema", {"format": "json"}).json()

    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert schema["paths"]["/api/auth/profile"]["get"]["security"] == [{"bearerAuth": []}]
    assert schema["paths"]["/api/auth/login"]["post"]["operationId"] == "auth_login"


def test_the_docs_page_works_offline(client):
    page = client.get("/api/docs")
    script = client.get("/api/docs", {"script": ""})

    assert page.status_code == 200
    assert b"swagger-ui" in page.content
    assert not re.search(rb"(src|href)=\"https?://", page.content)
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert (
        client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
    )


def test_the_docs_page_may_load_its_own_scripts_and_styles(client):
    policy = client.get("/api/docs")["Content-Security-Policy"]

    assert "default-src 'self'" in policy.split("; ")


def test_the_schema_is_built_once_per_process_and_served_without_redis(client, monkeypatch, settings):
    caches["process"].clear()
    built = []
    real_get_schema = SchemaGenerator.get_schema

    def counted(self, *args, **kwargs):
        built.append(1)
        return real_get_schema(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counted)
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        },
    }

    first = client.get("/api/schema")
    second = client.get("/api/schema")
    as_json = client.get("/api/schema?format=json")

    assert (first.status_code, second.status_code, as_json.status_code) == (200, 200, 200)
    assert first.content == second.content
    assert as_json.json()["openapi"].startswith("3.")
    assert len(built) == 2  # YAML once, JSON once
