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


# The relay (ai_scripts/relay.py) is plain Django async views, which drf-spectacular does not
# see: its two operations are described here and added by a postprocessing hook.
_ERROR = {"$ref": "#/components/schemas/RelayError"}
NO_NUL = "^[^\\u0000]*$"
_CODES = {
    "400": "A bad request (unknown model alias, bad messages or roles, too long a prompt, an unknown "
    "template or variable, a parameter the relay does not take), or one the provider refused.",
    "401": "No valid access token as the bearer token.",
    "413": "The body is larger than AI_RELAY_MAX_BODY_BYTES.",
    "429": "Over a budget (`code` names it, `reset_at` says when it resets, `x-should-retry: false`) or "
    "too many requests of this account in flight (`too_many_concurrent_requests`, Retry-After: 1).",
    "502": "Every provider of the alias failed (`upstream_error`).",
    "503": "No enabled provider serves the alias (`no_provider`), or the database or cache is unavailable "
    "(`service_unavailable`, with Retry-After).",
    "504": "Every provider of the alias timed out (`upstream_timeout`).",
}
RELAY_COMPONENTS = {
    "RelayError": {
        "type": "object",
        "description": "OpenAI's error shape, so that OpenAI SDKs raise their usual exceptions. The message "
        "is the server's own: never a provider's error text or URL.",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "type": {
                        "type": "string",
                        "enum": [
                            "invalid_request_error",
                            "authentication_error",
                            "insufficient_quota",
                            "rate_limit_error",
                            "api_error",
                        ],
                    },
                    "code": {"type": "string", "example": "daily_requests_budget_exceeded"},
                    "param": {"type": "string", "nullable": True},
                    "reset_at": {
                        "type": "string",
                        "format": "date-time",
                        "description": "With a budget's 429: when it resets (UTC).",
                    },
                },
                "required": ["message", "type", "code", "param"],
            }
        },
        "required": ["error"],
    },
    "ChatMessage": {
        "type": "object",
        "properties": {
            "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
            "content": {
                "description": 'Text, or a list of content parts (`{"type": "text", "text": ...}`).',
                "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}],
                "nullable": True,
            },
            "name": {"type": "string"},
            "tool_calls": {"type": "array", "items": {"type": "object"}},
            "tool_call_id": {"type": "string"},
        },
        "required": ["role"],
    },
    "ChatCompletionRequest": {
        "type": "object",
        "description": "OpenAI's chat completion request. Besides `model`, `messages`, `stream`, "
        "`stream_options` and `n` (1 only), the relay passes on temperature, top_p, presence_penalty, "
        "frequency_penalty, seed, stop, response_format, tools, tool_choice, parallel_tool_calls, user, "
        "max_tokens / max_completion_tokens (at most AI_RELAY_MAX_COMPLETION_TOKENS, which is also the "
        "default); any other parameter is a 400.",
        "properties": {
            "model": {
                "type": "string",
                "pattern": NO_NUL,
                "description": "A model alias (GET /api/ai/v1/models).",
                "example": "persona-chat",
            },
            "messages": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ChatMessage"},
                "description": "At most AI_RELAY_MAX_MESSAGES, AI_RELAY_MAX_PROMPT_CHARS characters of text "
                "in all (the template's included). May be empty when a template gives the messages.",
            },
            "stream": {"type": "boolean", "default": False},
            "stream_options": {
                "type": "object",
                "properties": {"include_usage": {"type": "boolean"}},
            },
            "template": {
                "type": "string",
                "pattern": NO_NUL,
                "description": "The name of an active AI script whose `system` and `user_template` "
                "(or `messages`) are rendered and put before `messages`; its `temperature` and "
                "`max_tokens` apply when the request sets none.",
                "example": "chat-assistant",
            },
            "variables": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "The template's `{{ name }}` values: plain text, put in once. A placeholder "
                "without a variable, or a variable the template does not use, is a 400.",
            },
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "max_tokens": {"type": "integer", "minimum": 1},
            "max_completion_tokens": {"type": "integer", "minimum": 1},
            "n": {"type": "integer", "enum": [1]},
            "stop": {
                "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 4}]
            },
            "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
            "frequency_penalty": {"type": "number", "minimum": -2, "maximum": 2},
            "seed": {"type": "integer"},
            "response_format": {"type": "object"},
            "tools": {"type": "array", "items": {"type": "object"}},
            "tool_choice": {"oneOf": [{"type": "string"}, {"type": "object"}]},
            "parallel_tool_calls": {"type": "boolean"},
            "user": {"type": "string", "maxLength": 256, "pattern": NO_NUL},
        },
        "required": ["model", "messages"],
    },
    "ChatCompletion": {
        "type": "object",
        "description": "The provider's chat completion, as it sent it.",
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "example": "chat.completion"},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {"type": "array", "items": {"type": "object"}},
            "usage": {
                "type": "object",
                "properties": {
                    "prompt_tokens": {"type": "integer"},
                    "completion_tokens": {"type": "integer"},
                    "total_tokens": {"type": "integer"},
                },
            },
        },
        "required": ["choices"],
    },
    "ModelList": {
        "type": "object",
        "properties": {
            "object": {"type": "string", "enum": ["list"]},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "example": "persona-chat"},
                        "object": {"type": "string", "enum": ["model"]},
                        "created": {"type": "integer"},
                        "owned_by": {"type": "string", "example": "persona"},
                    },
                    "required": ["id", "object", "created", "owned_by"],
                },
            },
        },
        "required": ["object", "data"],
    },
}


COMPLETION = {
    "id": "chatcmpl-7f3a",
    "object": "chat.completion",
    "created": 1796300000,
    "model": "openai/gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "A spicy lentil curry."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 52, "completion_tokens": 6, "total_tokens": 58},
}
EVENTS = (
    'data: {"id":"chatcmpl-7f3a","object":"chat.completion.chunk","choices":[{"index":0,'
    '"delta":{"role":"assistant","content":"A spicy"}}]}\n\n'
    'data: {"id":"chatcmpl-7f3a","object":"chat.completion.chunk","choices":[{"index":0,'
    '"delta":{"content":" lentil curry."},"finish_reason":"stop"}]}\n\n'
    "data: [DONE]\n\n"
)


def _errors(*codes: str) -> dict:
    return {
        code: {"description": _CODES[code], "content": {"application/json": {"schema": _ERROR}}}
        for code in codes
    }


RELAY_PATHS = {
    "/api/ai/v1/chat/completions": {
        "post": {
            "operationId": "ai_relay_chat_completions",
            "summary": "A chat completion through the relay (OpenAI-compatible)",
            "description": (
                "Set an OpenAI SDK's base URL to `/api/ai/v1` and its API key to the access token. "
                "The model alias is routed to its providers in priority order, falling back on "
                "connect errors, timeouts, 5xx, 429, 401 and 403 before the first byte. With "
                "`stream: true` the answer is the provider's Server-Sent Events as they come "
                "(`data: {chunk}` ... `data: [DONE]`); a provider that stops mid-stream ends it with "
                '`data: {"error": ...}`. Counted against the account\'s budgets per UTC day and month.'
            ),
            "tags": ["ai"],
            "security": [{"bearerAuth": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletionRequest"}}
                },
            },
            "responses": {
                "200": {
                    "description": "The completion, or (stream) its events.",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ChatCompletion"},
                            "examples": {"A completion": {"value": COMPLETION}},
                        },
                        "text/event-stream": {
                            "schema": {"type": "string"},
                            "examples": {"Events": {"value": EVENTS}},
                        },
                    },
                },
                **_errors("400", "401", "413", "429", "502", "503", "504"),
            },
        }
    },
    "/api/ai/v1/models": {
        "get": {
            "operationId": "ai_relay_models",
            "summary": "The model aliases this account may ask for (OpenAI-compatible)",
            "description": "Each enabled alias that some enabled provider serves.",
            "tags": ["ai"],
            "security": [{"bearerAuth": []}],
            "responses": {
                "200": {
                    "description": "The aliases.",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ModelList"},
                            "examples": {
                                "Two aliases": {
                                    "value": {
                                        "object": "list",
                                        "data": [
                                            {
                                                "id": "persona-chat",
                                                "object": "model",
                                                "created": 0,
                                                "owned_by": "persona",
                                            },
                                            {
                                                "id": "persona-fast",
                                                "object": "model",
                                                "created": 0,
                                                "owned_by": "persona",
                                            },
                                        ],
                                    }
                                }
                            },
                        }
                    },
                },
                **_errors("401", "503"),
            },
        }
    },
}


def add_relay_operations(result, generator, request, public):
    """A drf-spectacular postprocessing hook: the relay's operations and their schemas."""
    result["paths"].update(RELAY_PATHS)
    result.setdefault("components", {}).setdefault("schemas", {}).update(RELAY_COMPONENTS)
    return result


APP_CONFIG = OpenApiExample(
    "Configuration",
    value={
        "config_version": 12,
        "parameters": {
            "chat_enabled": True,
            "default_model": "persona-chat",
            "max_attachments": 4,
            "minimum_app_version": "2.0.0",
            "onboarding": {"steps": ["welcome", "privacy", "backup"]},
        },
        "update_required": False,
    },
)
