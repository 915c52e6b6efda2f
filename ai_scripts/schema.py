"""Examples for the AI endpoints in the OpenAPI schema."""

from drf_spectacular.utils import OpenApiExample

SCRIPT = OpenApiExample(
    "A script",
    value={
        "script_name": "daily-summary",
        "version": "3",
        "script_content": {"system": "You summarise the user's day.", "temperature": 0.3},
        "updated_at": "2026-11-20T10:05:00Z",
    },
    response_only=True,
)
DEGRADED = OpenApiExample(
    "Degraded",
    value={
        "status": "degraded",
        "services": [
            {"name": "openrouter", "status": "up", "latency_ms": 38, "provider": True},
            {"name": "local-llm", "status": "down", "latency_ms": None, "provider": True},
        ],
        "models": [{"id": "persona-chat", "status": "up"}, {"id": "persona-local", "status": "down"}],
        "active_scripts": 4,
    },
    response_only=True,
)
DOWN = OpenApiExample(
    "Down",
    value={
        "status": "down",
        "services": [{"name": "local-llm", "status": "down", "latency_ms": None, "provider": True}],
        "models": [{"id": "persona-local", "status": "down"}],
        "active_scripts": 4,
    },
    response_only=True,
    status_codes=["503"],
)
