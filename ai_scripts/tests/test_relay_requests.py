"""What the relay takes: the access token, a well-formed chat request, a model alias, and
optionally an AI script's template with its variables. Everything else is a 4xx in OpenAI's
error shape, and nothing reaches a provider."""

import json

import pytest
from django.db import OperationalError
from django.test import override_settings

from ai_scripts.models import AIRequest
from ai_scripts.tests.relay_client import MODELS, relay
from testing.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = {"model": "persona-chat", "messages": [{"role": "user", "content": "hello"}]}


@pytest.mark.parametrize("token", [None, "not-a-jwt"])
def test_it_requires_a_valid_access_token(chat_alias, fake_provider, token):
    answer = relay(token, HELLO)

    assert answer.status == 401
    assert answer.error["type"] == "authentication_error"
    assert answer.error["code"] == "invalid_token"
    assert fake_provider.requests == []


def test_a_revoked_token_is_refused(alice, access, chat_alias, fake_provider, api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert api_client.post("/api/auth/logout-all").status_code == 205

    assert relay(access, HELLO).status == 401
    assert fake_provider.requests == []


def test_a_refresh_token_is_not_an_access_token(alice, tokens_for, chat_alias):
    assert relay(tokens_for(alice)["refresh"], HELLO).status == 401


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({**HELLO, "model": "no-such-alias"}, "model_not_found", "model"),
        ({**HELLO, "model": ""}, "invalid_value", "model"),
        ({**HELLO, "messages": []}, "invalid_value", "messages"),
        ({**HELLO, "messages": "hello"}, "invalid_value", "messages"),
        ({**HELLO, "messages": [{"role": "wizard", "content": "hi"}]}, "invalid_role", "messages[0].role"),
        ({**HELLO, "messages": [{"role": {}, "content": "hi"}]}, "invalid_role", "messages[0].role"),
        ({**HELLO, "messages": [{"role": "user", "content": 5}]}, "invalid_message", "messages[0].content"),
        (
            {**HELLO, "messages": [{"role": "user", "content": "hi", "extra": 1}]},
            "invalid_message",
            "messages[0]",
        ),
        ({**HELLO, "messages": [{"role": "user", "content": "hi"}] * 4}, "too_many_messages", "messages"),
        ({**HELLO, "messages": [{"role": "user", "content": "x" * 101}]}, "prompt_too_long", "messages"),
        ({**HELLO, "temperature": 7}, "invalid_value", "temperature"),
        ({**HELLO, "max_tokens": 100_000}, "invalid_value", "max_tokens"),
        ({**HELLO, "max_completion_tokens": 0}, "invalid_value", "max_completion_tokens"),
        ({**HELLO, "n": 3}, "invalid_value", "n"),
        ({**HELLO, "stream": "yes"}, "invalid_value", "stream"),
        ({**HELLO, "stream_options": {"other": True}}, "invalid_value", "stream_options"),
        ({**HELLO, "logit_bias": {"1": 2}}, "unsupported_parameter", "logit_bias"),
        ({**HELLO, "variables": {"name": "Ada"}}, "invalid_value", "variables"),
        ([HELLO], "invalid_json", None),
    ],
)
@override_settings(
    AI_RELAY_MAX_MESSAGES=3, AI_RELAY_MAX_PROMPT_CHARS=100, AI_RELAY_MAX_COMPLETION_TOKENS=1000
)
def test_a_bad_request_is_a_400_naming_what_is_wrong(access, chat_alias, fake_provider, body, code, param):
    answer = relay(access, body)

    assert answer.status == 400
    assert answer.error["type"] == "invalid_request_error"
    assert (answer.error["code"], answer.error["param"]) == (code, param)
    assert fake_provider.requests == []
    assert not AIRequest.objects.exists()


def test_a_body_that_is_not_json_is_a_400(access, chat_alias):
    answer = relay(access, raw=b"{not json")

    assert answer.status == 400
    assert answer.error["code"] == "invalid_json"


@override_settings(AI_RELAY_MAX_BODY_BYTES=2048)
def test_a_body_over_the_limit_is_a_413(access, chat_alias, fake_provider):
    answer = relay(access, {**HELLO, "messages": [{"role": "user", "content": "x" * 3000}]})

    assert answer.status == 413
    assert answer.error["code"] == "body_too_large"
    assert fake_provider.requests == []


def test_a_disabled_alias_does_not_exist_for_the_app(access, make_provider, make_alias):
    make_alias("persona-chat", routes=[(make_provider(), "gpt-4o")], enabled=False)

    answer = relay(access, HELLO)

    assert answer.status == 400
    assert answer.error["code"] == "model_not_found"


def test_the_openai_parameters_pass_on_to_the_provider(access, chat_alias, fake_provider):
    body = {
        **HELLO,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["\n"],
        "seed": 7,
        "max_tokens": 50,
        "user": "u1",
    }

    assert relay(access, body).status == 200

    sent = fake_provider.requests[0].body
    assert {key: sent[key] for key in ("temperature", "top_p", "stop", "seed", "max_tokens", "user")} == {
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["\n"],
        "seed": 7,
        "max_tokens": 50,
        "user": "u1",
    }


def test_only_post_is_allowed(access, chat_alias):
    answer = relay(access, method="get")

    assert answer.status == 405
    assert answer.headers["Allow"] == "POST"
    assert answer.error["code"] == "method_not_allowed"
    listing = relay(access, method="delete", path=MODELS)
    assert (listing.status, listing.headers["Allow"]) == (405, "GET")


# Templates: AI scripts whose `system` and `user_template` the relay renders.


@pytest.fixture
def chat_script(make_script):
    return make_script(
        "chat-assistant",
        script_content={
            "system": "You are Persona. The user is called {{ name }}.",
            "user_template": "Context:\n{{context}}\n\nMessage: {{message}}",
            "temperature": 0.3,
            "max_tokens": 300,
        },
    )


def test_a_template_puts_its_rendered_messages_first(access, chat_alias, chat_script, fake_provider):
    variables = {"name": "Ada", "context": "likes {{tea}}", "message": "what now?"}
    body = {**HELLO, "template": "chat-assistant", "variables": variables}

    assert relay(access, body).status == 200

    sent = fake_provider.requests[0].body
    assert sent["messages"] == [
        {"role": "system", "content": "You are Persona. The user is called Ada."},
        # A value is text, never a template: its braces stay as they are.
        {"role": "user", "content": "Context:\nlikes {{tea}}\n\nMessage: what now?"},
        {"role": "user", "content": "hello"},
    ]
    # The script's settings apply where the request sets none.
    assert (sent["temperature"], sent["max_tokens"]) == (0.3, 300)


def test_the_requests_own_settings_win_over_the_templates(access, chat_alias, chat_script, fake_provider):
    variables = {"name": "Ada", "context": "-", "message": "-"}
    body = {
        **HELLO,
        "template": "chat-assistant",
        "variables": variables,
        "temperature": 1.0,
        "max_tokens": 20,
    }

    assert relay(access, body).status == 200

    sent = fake_provider.requests[0].body
    assert (sent["temperature"], sent["max_tokens"]) == (1.0, 20)


def test_a_template_may_hold_every_message(access, chat_alias, make_script, fake_provider):
    make_script("summary", script_content={"system": "Summarise: {{text}}"})

    body = {"model": "persona-chat", "messages": [], "template": "summary", "variables": {"text": "a b c"}}
    assert relay(access, body).status == 200

    assert fake_provider.requests[0].body["messages"] == [{"role": "system", "content": "Summarise: a b c"}]


@pytest.mark.parametrize(
    ("template", "variables", "code"),
    [
        ("no-such-script", {}, "unknown_template"),
        ("chat-assistant", {"name": "Ada", "context": "-"}, "missing_template_variable"),
        (
            "chat-assistant",
            {"name": "Ada", "context": "-", "message": "-", "mood": "x"},
            "unknown_template_variable",
        ),
        ("chat-assistant", {"name": 5}, "invalid_value"),
    ],
)
def test_a_bad_template_request_is_a_400(
    access, chat_alias, chat_script, fake_provider, template, variables, code
):
    answer = relay(access, {**HELLO, "template": template, "variables": variables})

    assert answer.status == 400
    assert answer.error["code"] == code
    assert fake_provider.requests == []


def test_an_inactive_script_is_no_template(access, chat_alias, make_script):
    make_script("old", script_content={"system": "x"}, is_active=False)

    answer = relay(access, {**HELLO, "template": "old"})

    assert answer.status == 400
    assert answer.error["code"] == "unknown_template"


@override_settings(AI_RELAY_MAX_PROMPT_CHARS=60)
def test_a_template_counts_towards_the_prompt_limit(access, chat_alias, make_script, fake_provider):
    make_script("long", script_content={"system": "x" * 50 + "{{v}}"})

    answer = relay(access, {**HELLO, "template": "long", "variables": {"v": "y" * 20}})

    assert answer.status == 400
    assert answer.error["code"] == "prompt_too_long"


# GET /api/ai/v1/models: the aliases the app may ask for.


def test_models_lists_the_aliases_some_enabled_provider_serves(access, make_provider, make_alias):
    fake, off = make_provider("fake"), make_provider("off", enabled=False)
    make_alias("persona-chat", routes=[(fake, "gpt-4o-mini"), (off, "gpt-4o")])
    make_alias("persona-fast", routes=[(fake, "gpt-4o-mini")])
    make_alias("persona-retired", routes=[(fake, "gpt-4o")], enabled=False)
    make_alias("persona-unserved", routes=[(off, "gpt-4o")])

    answer = relay(access, method="get", path=MODELS)

    assert answer.status == 200
    assert answer.json() == {
        "object": "list",
        "data": [
            {"id": "persona-chat", "object": "model", "created": 0, "owned_by": "persona"},
            {"id": "persona-fast", "object": "model", "created": 0, "owned_by": "persona"},
        ],
    }


def test_models_requires_a_token(chat_alias):
    answer = relay(None, method="get", path=MODELS)

    assert answer.status == 401
    assert answer.error["type"] == "authentication_error"


def test_the_relay_does_not_take_a_session_cookie(client, alice, chat_alias):
    """Only the bearer token counts: a signed-in browser session is no way in."""
    client.login(email=alice.email, password=PASSWORD)

    response = client.post("/api/ai/v1/chat/completions", json.dumps(HELLO), content_type="application/json")

    assert response.status_code == 401


@pytest.mark.parametrize("field", ["model", "template", "user"])
def test_a_nul_character_is_refused_where_the_database_would_see_it(access, chat_alias, field):
    answer = relay(access, {**HELLO, field: "persona\x00chat"})

    assert answer.status == 400
    assert answer.error["param"] == field


def test_a_database_that_fails_is_a_503_in_the_relays_shape(access, chat_alias, fake_provider, monkeypatch):
    def unavailable(token):
        raise OperationalError("connection refused")

    monkeypatch.setattr("ai_scripts.relay.token_user", unavailable)

    answer = relay(access, HELLO)

    assert answer.status == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.error == {
        "message": "The database is unavailable; try again later.",
        "type": "api_error",
        "code": "service_unavailable",
        "param": None,
    }
    assert fake_provider.requests == []
