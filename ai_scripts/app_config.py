"""Remote app configuration: the published document, its checks, and what one app receives.

A document (what `export_app_config` writes and every ConfigVersion holds) is
`{"parameters": {key: {"type", "default", "description", "rules": [rule, ...]}}}`, where a
rule is `{"value", and any of "platforms", "app_versions", "signed_in", "rollout_percent"}`.
For each parameter the first rule whose conditions all hold gives the value, else the default.

Nothing here touches the database: ai_scripts.config_services reads and writes the versions.
"""

import hashlib
import json
import math
import operator
import re
from dataclasses import dataclass

import semver
from django.core.exceptions import ValidationError
from django.db import models

KEY_MAX_LENGTH = 100
MINIMUM_VERSION_KEY = "minimum_app_version"
PLATFORMS = ("android", "ios", "web", "macos", "windows", "linux")
DOCUMENT_MAX_BYTES = 64 * 1024
# Integers beyond this lose precision in JavaScript and Dart on the web.
LARGEST_INTEGER = 2**53
# Longer X-App-Version values are not parsed at all: no real version is this long.
VERSION_MAX_LENGTH = 64
RULE_CONDITIONS = ("platforms", "app_versions", "signed_in", "rollout_percent")

_KEY = re.compile(r"[a-z][a-z0-9_]*")
_COMPARISON = re.compile(r"(>=|<=|>|<|==|=|!=)?(.+)")
_OPERATORS = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "=": operator.eq,
    "!=": operator.ne,
    None: operator.eq,
}


class ValueType(models.TextChoices):
    BOOLEAN = "boolean"
    NUMBER = "number"
    STRING = "string"
    JSON = "json", "JSON object"


class DocumentError(ValueError):
    """A configuration document that cannot be published; the message names the bad part."""


def validate_key(value) -> None:
    if not isinstance(value, str) or not _KEY.fullmatch(value) or len(value) > KEY_MAX_LENGTH:
        raise ValidationError(
            f"A key is a lowercase letter, then lowercase letters, digits or underscores "
            f"(at most {KEY_MAX_LENGTH}), e.g. chat_enabled.",
            code="invalid",
        )


def validate_platforms(value) -> None:
    if not isinstance(value, list) or not all(platform in PLATFORMS for platform in value):
        raise ValidationError(
            f"A list of platforms out of {', '.join(PLATFORMS)}; empty matches every platform.",
            code="invalid",
        )


def validate_version_range(value) -> None:
    try:
        VersionRange.parse(value)
    except ValueError as error:
        raise ValidationError(str(error), code="invalid") from None


def check_value(value, value_type: str, *, key: str = "") -> None:
    """Refuses a value that is not of the parameter's type (ValidationError)."""
    if key == MINIMUM_VERSION_KEY:
        if value_type != ValueType.STRING:
            raise ValidationError(f"{MINIMUM_VERSION_KEY} must be a string parameter.", code="invalid")
        if value != "" and parse_version(value) is None:
            raise ValidationError(
                f"{MINIMUM_VERSION_KEY} holds a full semver version such as 2.1.0, or nothing.",
                code="invalid",
            )
    if isinstance(value, bool):
        is_number = False
    elif isinstance(value, int):
        is_number = abs(value) <= LARGEST_INTEGER
    else:
        is_number = isinstance(value, float) and math.isfinite(value)
    kinds = {
        ValueType.BOOLEAN: isinstance(value, bool),
        ValueType.NUMBER: is_number,
        ValueType.STRING: isinstance(value, str),
        ValueType.JSON: isinstance(value, dict),
    }
    if not kinds.get(value_type, False):
        label = ValueType(value_type).label.lower() if value_type in ValueType.values else value_type
        shown = json.dumps(value)
        shown = shown if len(shown) <= 40 else shown[:39] + "…"
        raise ValidationError(f"The value must be a {label}, not {shown}.", code="invalid")


def parse_version(text) -> semver.Version | None:
    """A full semver version (build metadata allowed and ignored), or None."""
    if not isinstance(text, str) or len(text) > VERSION_MAX_LENGTH:
        return None
    try:
        return semver.Version.parse(text.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class VersionRange:
    """Comparisons that must all hold, e.g. `>=2.1.0 <3.0.0` (a bare version means `==`),
    by semver precedence: 2.10.0 is above 2.9.0, and 3.0.0-beta.1 below 3.0.0."""

    comparisons: tuple

    @classmethod
    def parse(cls, text: str) -> "VersionRange":
        comparisons = []
        for part in text.replace(",", " ").split():
            op, version = _COMPARISON.fullmatch(part).groups()
            parsed = parse_version(version)
            if parsed is None:
                raise ValueError(
                    f"{part!r} is not a version comparison. Write full versions with >=, >, <=, <, = or !=, "
                    "separated by spaces, e.g. >=2.1.0 <3.0.0."
                )
            comparisons.append((_OPERATORS[op], parsed))
        return cls(tuple(comparisons))

    def holds_for(self, version: semver.Version | None) -> bool:
        return version is not None and all(compare(version, bound) for compare, bound in self.comparisons)


@dataclass(frozen=True)
class Client:
    """What a request tells about the app: platform and version (None when missing, unknown
    or malformed), and the user id when it came with a valid access token."""

    platform: str | None = None
    app_version: semver.Version | None = None
    user_id: str | None = None

    @classmethod
    def from_headers(cls, *, platform, app_version, user_id=None) -> "Client":
        platform = platform.strip().lower() if isinstance(platform, str) else None
        return cls(
            platform=platform if platform in PLATFORMS else None,
            app_version=parse_version(app_version),
            user_id=str(user_id) if user_id is not None else None,
        )


def in_rollout(*, key: str, user_id: str | None, percent: int) -> bool:
    """Whether the user is among `percent` % of users for this parameter: their bucket (0 to 99,
    from a hash of the key and user id) never changes, so raising the percentage only adds
    users. Apps without a user are in a 100 % rollout only."""
    if user_id is None:
        return percent >= 100
    digest = hashlib.sha256(f"{key}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent


@dataclass(frozen=True)
class Rule:
    value: object
    platforms: frozenset | None
    app_versions: VersionRange | None
    signed_in: bool | None
    rollout_percent: int | None

    def matches(self, client: Client, key: str) -> bool:
        return (
            (self.platforms is None or client.platform in self.platforms)
            and (self.app_versions is None or self.app_versions.holds_for(client.app_version))
            and (self.signed_in is None or self.signed_in == (client.user_id is not None))
            and (
                self.rollout_percent is None
                or in_rollout(key=key, user_id=client.user_id, percent=self.rollout_percent)
            )
        )


@dataclass(frozen=True)
class Parameter:
    key: str
    default: object
    rules: tuple[Rule, ...]

    def resolve(self, client: Client) -> tuple[object, int | None]:
        """The value this app gets, and the number (from 1) of the rule that gave it."""
        for number, rule in enumerate(self.rules, start=1):
            if rule.matches(client, self.key):
                return rule.value, number
        return self.default, None


@dataclass(frozen=True)
class Config:
    """A checked document, ready to answer apps; built once per published version."""

    number: int
    parameters: tuple[Parameter, ...]

    @classmethod
    def from_document(cls, document: dict, *, number: int) -> "Config":
        parameters = []
        for key, parameter in sorted(document["parameters"].items()):
            rules = tuple(
                Rule(
                    value=rule["value"],
                    platforms=frozenset(rule["platforms"]) if "platforms" in rule else None,
                    app_versions=VersionRange.parse(rule["app_versions"]) if "app_versions" in rule else None,
                    signed_in=rule.get("signed_in"),
                    rollout_percent=rule.get("rollout_percent"),
                )
                for rule in parameter["rules"]
            )
            parameters.append(Parameter(key=key, default=parameter["default"], rules=rules))
        return cls(number=number, parameters=tuple(parameters))

    def resolve(self, client: Client) -> dict[str, tuple[object, int | None]]:
        """Each parameter's value for this app, with the rule that gave it (None: the default)."""
        return {parameter.key: parameter.resolve(client) for parameter in self.parameters}

    def answer(self, client: Client) -> dict:
        """What GET /api/config/app-config returns to this app."""
        values = {parameter.key: parameter.resolve(client)[0] for parameter in self.parameters}
        minimum = parse_version(values.get(MINIMUM_VERSION_KEY))
        return {
            "config_version": self.number,
            "parameters": values,
            "update_required": bool(minimum and client.app_version and client.app_version < minimum),
        }


EMPTY_DOCUMENT = {"parameters": {}}


def documents_equal(first: dict, second: dict) -> bool:
    """Equal as JSON: unlike Python's ==, true is not 1 and 1.0 is not 1."""
    return json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def document_check(document) -> dict:
    """The document in its canonical form (conditions left unset are left out), or a
    DocumentError naming the first bad part."""
    if not isinstance(document, dict) or "parameters" not in document:
        raise DocumentError('The configuration must be a JSON object {"parameters": {...}}.')
    unknown = sorted(set(document) - {"parameters"})
    if unknown:
        raise DocumentError(f"Unknown field(s) {', '.join(unknown)}: a configuration holds only parameters.")
    if not isinstance(document["parameters"], dict):
        raise DocumentError('"parameters" must be a JSON object of parameters by key.')
    checked = {"parameters": {}}
    for key, parameter in sorted(document["parameters"].items()):
        checked["parameters"][key] = _parameter_checked(key, parameter)
    size = len(json.dumps(checked, separators=(",", ":"), ensure_ascii=False).encode())
    if size > DOCUMENT_MAX_BYTES:
        raise DocumentError(f"The configuration is {size} bytes; at most {DOCUMENT_MAX_BYTES} are allowed.")
    return checked


def _parameter_checked(key, parameter) -> dict:
    where = f"parameter {key!r}"
    try:
        validate_key(key)
    except ValidationError as error:
        raise DocumentError(f"{where}: {error.messages[0]}") from None
    if not isinstance(parameter, dict):
        raise DocumentError(f"{where}: must be a JSON object.")
    unknown = sorted(set(parameter) - {"type", "default", "description", "rules"})
    missing = sorted({"type", "default"} - set(parameter))
    if unknown or missing:
        problem = f"unknown field(s) {', '.join(unknown)}" if unknown else f"missing {', '.join(missing)}"
        raise DocumentError(f"{where}: {problem}.")
    value_type = parameter["type"]
    if value_type not in ValueType.values:
        raise DocumentError(f"{where}: type must be one of {', '.join(ValueType.values)}.")
    description = parameter.get("description", "")
    if not isinstance(description, str) or len(description) > 300:
        raise DocumentError(f"{where}: description must be a string of at most 300 characters.")
    _value_checked(parameter["default"], value_type, key, f"{where}, default")
    rules = parameter.get("rules", [])
    if not isinstance(rules, list):
        raise DocumentError(f"{where}: rules must be a list.")
    return {
        "type": value_type,
        "default": parameter["default"],
        "description": description,
        "rules": [
            _rule_checked(rule, value_type, key, f"{where}, rule {number}")
            for number, rule in enumerate(rules, start=1)
        ],
    }


def _rule_checked(rule, value_type: str, key: str, where: str) -> dict:
    if not isinstance(rule, dict):
        raise DocumentError(f"{where}: must be a JSON object.")
    unknown = sorted(set(rule) - {"value", *RULE_CONDITIONS})
    if unknown:
        raise DocumentError(f"{where}: unknown field(s) {', '.join(unknown)}.")
    if "value" not in rule:
        raise DocumentError(f"{where}: missing value.")
    _value_checked(rule["value"], value_type, key, where)
    checked = {"value": rule["value"]}
    platforms = rule.get("platforms") or []
    try:
        validate_platforms(platforms)
    except ValidationError as error:
        raise DocumentError(f"{where}: platforms: {error.messages[0]}") from None
    if platforms:
        checked["platforms"] = sorted(set(platforms))
    app_versions = rule.get("app_versions") or ""
    if not isinstance(app_versions, str) or len(app_versions) > 100:
        raise DocumentError(f"{where}: app_versions must be a string of at most 100 characters.")
    try:
        VersionRange.parse(app_versions)
    except ValueError as error:
        raise DocumentError(f"{where}: app_versions: {error}") from None
    if app_versions.strip():
        checked["app_versions"] = app_versions.strip()
    signed_in = rule.get("signed_in")
    if signed_in is not None:
        if not isinstance(signed_in, bool):
            raise DocumentError(f"{where}: signed_in must be true, false or left out.")
        checked["signed_in"] = signed_in
    percent = rule.get("rollout_percent")
    if percent is not None:
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise DocumentError(f"{where}: rollout_percent must be a whole number from 0 to 100.")
        checked["rollout_percent"] = percent
    return checked


def _value_checked(value, value_type: str, key: str, where: str) -> None:
    try:
        check_value(value, value_type, key=key)
    except ValidationError as error:
        raise DocumentError(f"{where}: {error.messages[0]}") from None
