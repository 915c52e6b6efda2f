"""A chat request to the relay, read and checked before anything is sent upstream, and the
AI script templates it may name (README, "Use the relay").

Templates: a script's `system` and `user_template` strings (or a `messages` list of
`{"role", "content"}`) become messages put before the request's own, with every
`{{ name }}` replaced by the request's variable of that name: plain text replacement, once,
so a value is never read as a template and no code runs. A placeholder without a variable, or
a variable the template does not use, is a 400. The script's `temperature` and `max_tokens`
apply when the request does not set them.
"""

import re
from dataclasses import dataclass, field

import orjson
from django.conf import settings

from ai_scripts.exceptions import RelayError

ROLES = {"system", "developer", "user", "assistant", "tool"}
MESSAGE_KEYS = {"role", "content", "name", "tool_calls", "tool_call_id"}
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MAX_VARIABLES = 50


def _number(low: float, high: float):
    def check(value) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high

    return check


def _stop(value) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and len(value) <= 4 and all(isinstance(item, str) for item in value)
    )


# The OpenAI parameters passed on to the provider, each with its check; any other is a 400.
PASSED_ON = {
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "seed": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "stop": _stop,
    "response_format": lambda value: isinstance(value, dict),
    "tools": lambda value: isinstance(value, list) and len(value) <= 128,
    "tool_choice": lambda value: isinstance(value, str | dict),
    "parallel_tool_calls": lambda value: isinstance(value, bool),
    "user": lambda value: isinstance(value, str) and len(value) <= 256 and "\x00" not in value,
}
# Read here rather than passed on as they are.
OWN = {"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "n"}
TEMPLATE_KEYS = {"template", "variables"}


@dataclass
class ChatRequest:
    alias: str
    messages: list[dict]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    params: dict = field(default_factory=dict)
    template: str = ""
    variables: dict[str, str] = field(default_factory=dict)

    def apply_template(self, content: dict) -> None:
        """Puts the script's rendered messages first and takes its defaults."""
        used: set[str] = set()
        self.messages = [*_template_messages(content, self.variables, used), *self.messages]
        unused = sorted(set(self.variables) - used)
        if unused:
            raise RelayError(
                f"The template {self.template!r} has no variable {unused[0]!r}.",
                code="unknown_template_variable",
                param="variables",
            )
        if "temperature" not in self.params and _number(0, 2)(content.get("temperature")):
            self.params["temperature"] = content["temperature"]
        if self.max_tokens is None and isinstance(content.get("max_tokens"), int):
            self.max_tokens = min(max(content["max_tokens"], 1), settings.AI_RELAY_MAX_COMPLETION_TOKENS)
        check_prompt(self.messages)

    def upstream_body(self, model: str) -> bytes:
        """The JSON sent to a provider for its `model`."""
        body = {
            "model": model,
            "messages": self.messages,
            **self.params,
            "max_tokens": self.max_tokens or settings.AI_RELAY_MAX_COMPLETION_TOKENS,
        }
        if self.stream:
            # Usage comes in the stream's last chunk only when asked for; the relay always
            # needs it to count tokens.
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return orjson.dumps(body)


def chat_request_parse(raw: bytes) -> ChatRequest:
    """The request body, checked: a RelayError (400) names the first thing wrong."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RelayError("The body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise RelayError("The body must be a JSON object.", code="invalid_json")
    for key in body:
        if key not in PASSED_ON and key not in OWN and key not in TEMPLATE_KEYS:
            raise RelayError(f"Unsupported parameter: {key!r}.", code="unsupported_parameter", param=key)
    for key, check in PASSED_ON.items():
        if key in body and body[key] is not None and not check(body[key]):
            raise RelayError(f"Invalid value for {key!r}.", code="invalid_value", param=key)

    alias = body.get("model")
    if not isinstance(alias, str) or not alias or "\x00" in alias:
        raise RelayError(
            "`model` must name a model alias (GET /api/ai/v1/models).", code="invalid_value", param="model"
        )
    if body.get("n") not in (None, 1):
        raise RelayError("Only one choice (n=1) is relayed.", code="invalid_value", param="n")
    stream = body.get("stream")
    if stream not in (None, True, False):
        raise RelayError("`stream` must be true or false.", code="invalid_value", param="stream")
    options = body.get("stream_options")
    if options is not None and not (isinstance(options, dict) and set(options) <= {"include_usage"}):
        raise RelayError(
            "`stream_options` may only hold include_usage.", code="invalid_value", param="stream_options"
        )

    template = body.get("template") or ""
    variables = body.get("variables") or {}
    if not isinstance(template, str) or "\x00" in template:
        raise RelayError("`template` must be an AI script's name.", code="invalid_value", param="template")
    if (
        not isinstance(variables, dict)
        or len(variables) > MAX_VARIABLES
        or not all(isinstance(value, str) for value in variables.values())
    ):
        raise RelayError(
            f"`variables` must be an object of at most {MAX_VARIABLES} strings.",
            code="invalid_value",
            param="variables",
        )
    if variables and not template:
        raise RelayError("`variables` need a `template`.", code="invalid_value", param="variables")

    messages = body.get("messages")
    if not isinstance(messages, list) or (not messages and not template):
        raise RelayError("`messages` must be a non-empty list.", code="invalid_value", param="messages")
    for number, message in enumerate(messages):
        _check_message(message, number)
    check_prompt(messages)

    return ChatRequest(
        alias=alias,
        messages=messages,
        stream=bool(stream),
        include_usage=bool(options and options.get("include_usage")),
        max_tokens=_max_tokens(body),
        params={key: body[key] for key in PASSED_ON if body.get(key) is not None},
        template=template,
        variables=variables,
    )


def check_prompt(messages: list[dict]) -> None:
    if len(messages) > settings.AI_RELAY_MAX_MESSAGES:
        raise RelayError(
            f"At most {settings.AI_RELAY_MAX_MESSAGES} messages are allowed.",
            code="too_many_messages",
            param="messages",
        )
    characters = sum(len(text) for message in messages for text in _texts(message.get("content")))
    if characters > settings.AI_RELAY_MAX_PROMPT_CHARS:
        raise RelayError(
            f"The messages hold {characters} characters; "
            f"at most {settings.AI_RELAY_MAX_PROMPT_CHARS} are allowed.",
            code="prompt_too_long",
            param="messages",
        )


def prompt_text(messages: list[dict]) -> str:
    return "\n".join(text for message in messages for text in _texts(message.get("content")))


def _check_message(message, number: int) -> None:
    param = f"messages[{number}]"
    if not isinstance(message, dict) or not set(message) <= MESSAGE_KEYS:
        raise RelayError(
            f"{param} must be an object with role and content.", code="invalid_message", param=param
        )
    if not isinstance(message.get("role"), str) or message["role"] not in ROLES:
        raise RelayError(
            f"{param}.role must be one of {', '.join(sorted(ROLES))}.",
            code="invalid_role",
            param=f"{param}.role",
        )
    content = message.get("content")
    valid = (
        isinstance(content, str)
        or (content is None and message["role"] == "assistant")
        or (
            isinstance(content, list)
            and all(isinstance(part, dict) and isinstance(part.get("type"), str) for part in content)
        )
    )
    if not valid:
        raise RelayError(
            f"{param}.content must be a string or a list of content parts.",
            code="invalid_message",
            param=f"{param}.content",
        )


def _texts(content):
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part.get("text"), str):
                yield part["text"]


def _max_tokens(body: dict) -> int | None:
    requested = body.get("max_completion_tokens", body.get("max_tokens"))
    if requested is None:
        return None
    limit = settings.AI_RELAY_MAX_COMPLETION_TOKENS
    if not isinstance(requested, int) or isinstance(requested, bool) or not 1 <= requested <= limit:
        param = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
        raise RelayError(f"`{param}` must be between 1 and {limit}.", code="invalid_value", param=param)
    return requested


def _template_messages(content: dict, variables: dict[str, str], used: set[str]) -> list[dict]:
    def render(text: str) -> str:
        def substitute(match: re.Match) -> str:
            name = match.group(1)
            if name not in variables:
                raise RelayError(
                    f"The template needs the variable {name!r}.",
                    code="missing_template_variable",
                    param="variables",
                )
            used.add(name)
            return variables[name]

        return PLACEHOLDER.sub(substitute, text)

    if isinstance(content.get("messages"), list):
        return [
            {"role": message["role"], "content": render(message["content"])}
            for message in content["messages"]
            if isinstance(message, dict)
            and isinstance(message.get("role"), str)
            and message["role"] in ROLES
            and isinstance(message.get("content"), str)
        ]
    messages = []
    if isinstance(content.get("system"), str):
        messages.append({"role": "system", "content": render(content["system"])})
    if isinstance(content.get("user_template"), str):
        messages.append({"role": "user", "content": render(content["user_template"])})
    return messages
