"""The configuration document (app_config.document_check) and the services that publish it
(config_services), without HTTP."""

import pytest

from ai_scripts import config_services
from ai_scripts.app_config import DocumentError, document_check
from ai_scripts.models import ConfigParameter, ConfigVersion

KEY_RULE = (
    "A key is a lowercase letter, then lowercase letters, digits or underscores (at most 100), "
    "e.g. chat_enabled."
)
PLATFORMS_RULE = (
    "A list of platforms out of android, ios, web, macos, windows, linux; empty matches every platform."
)
RANGE_RULE = (
    "is not a version comparison. Write full versions with >=, >, <=, <, = or !=, separated by spaces, "
    "e.g. >=2.1.0 <3.0.0."
)
ROLLOUT_RULE = "rollout_percent must be a whole number from 0 to 100."
MINIMUM_SEMVER = "minimum_app_version holds a full semver version such as 2.1.0, or nothing."

# Key order of the canonical form, compact: what the 64 KiB limit is measured on.
EMPTY_STRING_PARAMETER = '{"parameters":{"big":{"type":"string","default":"","description":"","rules":[]}}}'


def document(**parameters):
    return {"parameters": parameters}


def flag(*rules, default=False):
    return {"type": "boolean", "default": default, "rules": list(rules)}


def text(default, *rules):
    return {"type": "string", "default": default, "rules": list(rules)}


def canonical(type, default, *rules, description=""):
    return {"type": type, "default": default, "description": description, "rules": list(rules)}


FIRST = document(greeting=text("Hello", {"value": "Hi", "platforms": ["ios"]}))
SECOND = document(greeting=text("Hello", {"value": "Hey", "platforms": ["android"]}))
THIRD = document(greeting=text("Hello"), chat_enabled=flag())


def versions():
    return list(ConfigVersion.objects.order_by("number").values_list("number", "document", "note"))


# The canonical form


def test_it_leaves_unset_conditions_out_and_sorts_platforms():
    checked = document_check(
        document(
            chat_enabled=flag(
                {
                    "value": True,
                    "platforms": ["web", "ios", "android", "ios"],
                    "app_versions": "  >=2.1.0 <3.0.0 ",
                    "signed_in": None,
                    "rollout_percent": None,
                },
                {
                    "value": False,
                    "platforms": [],
                    "app_versions": "",
                    "signed_in": False,
                    "rollout_percent": 0,
                },
                {"value": True, "platforms": None, "app_versions": None},
            )
        )
    )

    assert checked == document(
        chat_enabled=canonical(
            "boolean",
            False,
            {"value": True, "platforms": ["android", "ios", "web"], "app_versions": ">=2.1.0 <3.0.0"},
            {"value": False, "signed_in": False, "rollout_percent": 0},
            {"value": True},
        )
    )


def test_it_sorts_parameters_by_key_and_keeps_descriptions():
    checked = document_check(
        document(
            zeta={"type": "number", "default": 1.5, "description": "Last."},
            alpha={"type": "json", "default": {"nested": [1, "two", None]}},
        )
    )

    assert list(checked["parameters"]) == ["alpha", "zeta"]
    assert checked == document(
        alpha=canonical("json", {"nested": [1, "two", None]}),
        zeta=canonical("number", 1.5, description="Last."),
    )


def test_it_accepts_every_condition_on_one_rule():
    rule = {
        "value": 7,
        "platforms": ["ios"],
        "app_versions": "=2.1.0",
        "signed_in": True,
        "rollout_percent": 100,
    }

    checked = document_check(document(limit={"type": "number", "default": 0, "rules": [rule]}))

    assert checked == document(limit=canonical("number", 0, rule))


@pytest.mark.parametrize("minimum", ["2.1.0", "3.0.0-beta.1", "2.1.0+45", ""])
def test_it_accepts_a_semver_minimum_version_or_none(minimum):
    checked = document_check(document(minimum_app_version=text(minimum)))

    assert checked == document(minimum_app_version=canonical("string", minimum))


def test_it_accepts_an_empty_document():
    assert document_check({"parameters": {}}) == {"parameters": {}}


# Refusals, each naming the bad part


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([], 'The configuration must be a JSON object {"parameters": {...}}.'),
        ("{}", 'The configuration must be a JSON object {"parameters": {...}}.'),
        ({}, 'The configuration must be a JSON object {"parameters": {...}}.'),
        ({"parameters": []}, '"parameters" must be a JSON object of parameters by key.'),
        (document(**{"Chat-Enabled": flag()}), f"parameter 'Chat-Enabled': {KEY_RULE}"),
        (document(**{"2fa": flag()}), f"parameter '2fa': {KEY_RULE}"),
        (document(**{"k" * 101: flag()}), f"parameter '{'k' * 101}': {KEY_RULE}"),
        (document(chat_enabled=True), "parameter 'chat_enabled': must be a JSON object."),
        (
            document(chat_enabled={**flag(), "value": True}),
            "parameter 'chat_enabled': unknown field(s) value.",
        ),
        (document(chat_enabled={"default": False}), "parameter 'chat_enabled': missing type."),
        (document(chat_enabled={"type": "boolean"}), "parameter 'chat_enabled': missing default."),
        (document(chat_enabled={}), "parameter 'chat_enabled': missing default, type."),
        (
            document(chat_enabled={"type": "integer", "default": 1}),
            "parameter 'chat_enabled': type must be one of boolean, number, string, json.",
        ),
        (
            document(chat_enabled={**flag(), "description": "x" * 301}),
            "parameter 'chat_enabled': description must be a string of at most 300 characters.",
        ),
        (document(chat_enabled={**flag(), "rules": {}}), "parameter 'chat_enabled': rules must be a list."),
    ],
)
def test_it_refuses_a_malformed_document_or_parameter(bad, message):
    with pytest.raises(DocumentError) as refused:
        document_check(bad)

    assert str(refused.value) == message


def test_it_names_an_unknown_top_level_key():
    """Like an unknown field of a parameter or rule, an unknown top-level key is named."""
    with pytest.raises(DocumentError) as refused:
        document_check({"parameters": {}, "version": 2})

    assert str(refused.value) == "Unknown field(s) version: a configuration holds only parameters."


@pytest.mark.parametrize(
    ("type", "default", "message"),
    [
        ("boolean", 1, "The value must be a boolean, not 1."),
        ("boolean", "true", 'The value must be a boolean, not "true".'),
        ("boolean", None, "The value must be a boolean, not null."),
        ("number", True, "The value must be a number, not true."),
        ("number", "5", 'The value must be a number, not "5".'),
        ("number", float("nan"), "The value must be a number, not NaN."),
        ("number", float("inf"), "The value must be a number, not Infinity."),
        ("string", 5, "The value must be a string, not 5."),
        ("string", None, "The value must be a string, not null."),
        ("json", [1, 2], "The value must be a json object, not [1, 2]."),
        ("json", "{}", 'The value must be a json object, not "{}".'),
    ],
)
def test_it_refuses_a_default_of_the_wrong_type(type, default, message):
    with pytest.raises(DocumentError) as refused:
        document_check(document(setting={"type": type, "default": default}))

    assert str(refused.value) == f"parameter 'setting', default: {message}"


@pytest.mark.parametrize(
    ("default", "shown"), [(10**400, "1" + "0" * 38 + "…"), (2**53 + 1, "9007199254740993")]
)
def test_it_refuses_an_integer_apps_cannot_hold(default, shown):
    """JSON integers have no bound, but JavaScript's and Dart's (on the web) stop being exact
    past 2**53: such a default is refused, and shortened in the message."""
    with pytest.raises(DocumentError) as refused:
        document_check(document(limit={"type": "number", "default": default}))

    assert str(refused.value) == f"parameter 'limit', default: The value must be a number, not {shown}."


def test_it_accepts_the_largest_exact_integer():
    checked = document_check(document(limit={"type": "number", "default": -(2**53)}))

    assert checked["parameters"]["limit"]["default"] == -(2**53)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("on", "must be a JSON object."),
        ({"value": "yes"}, 'The value must be a boolean, not "yes".'),
        ({"value": 1, "platforms": ["ios"]}, "The value must be a boolean, not 1."),
        ({"platforms": ["ios"]}, "missing value."),
        ({"value": True, "platform": ["ios"]}, "unknown field(s) platform."),
        ({"value": True, "platforms": ["ios", "symbian"]}, f"platforms: {PLATFORMS_RULE}"),
        ({"value": True, "platforms": ["iOS"]}, f"platforms: {PLATFORMS_RULE}"),
        ({"value": True, "platforms": "ios"}, f"platforms: {PLATFORMS_RULE}"),
        ({"value": True, "app_versions": ">= 2.1"}, f"app_versions: '>=' {RANGE_RULE}"),
        ({"value": True, "app_versions": ">=2.1"}, f"app_versions: '>=2.1' {RANGE_RULE}"),
        ({"value": True, "app_versions": "latest"}, f"app_versions: 'latest' {RANGE_RULE}"),
        ({"value": True, "app_versions": ">=2.1.0 <3"}, f"app_versions: '<3' {RANGE_RULE}"),
        ({"value": True, "app_versions": "~2.1.0"}, f"app_versions: '~2.1.0' {RANGE_RULE}"),
        (
            {"value": True, "app_versions": ">=2.1.0 " * 13},
            "app_versions must be a string of at most 100 characters.",
        ),
        ({"value": True, "app_versions": 2}, "app_versions must be a string of at most 100 characters."),
        ({"value": True, "rollout_percent": 101}, ROLLOUT_RULE),
        ({"value": True, "rollout_percent": -1}, ROLLOUT_RULE),
        ({"value": True, "rollout_percent": 50.5}, ROLLOUT_RULE),
        ({"value": True, "rollout_percent": True}, ROLLOUT_RULE),
        ({"value": True, "rollout_percent": "50"}, ROLLOUT_RULE),
        ({"value": True, "signed_in": "yes"}, "signed_in must be true, false or left out."),
        ({"value": True, "signed_in": 1}, "signed_in must be true, false or left out."),
    ],
)
def test_it_refuses_a_bad_rule_naming_it(rule, message):
    with pytest.raises(DocumentError) as refused:
        document_check(document(chat_enabled=flag({"value": True}, rule)))

    assert str(refused.value) == f"parameter 'chat_enabled', rule 2: {message}"


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        ({"type": "number", "default": 2}, "default: minimum_app_version must be a string parameter."),
        ({"type": "json", "default": {}}, "default: minimum_app_version must be a string parameter."),
        (text("2.1"), f"default: {MINIMUM_SEMVER}"),
        (text("v2.1.0"), f"default: {MINIMUM_SEMVER}"),
        (text("latest"), f"default: {MINIMUM_SEMVER}"),
        (text("2.1.0", {"value": "3.0", "platforms": ["android"]}), f"rule 1: {MINIMUM_SEMVER}"),
    ],
)
def test_it_refuses_a_minimum_version_that_is_not_a_semver_string(parameter, message):
    with pytest.raises(DocumentError) as refused:
        document_check(document(minimum_app_version=parameter))

    assert str(refused.value) == f"parameter 'minimum_app_version', {message}"


def test_it_accepts_a_document_of_64_kib_exactly():
    big = "x" * (64 * 1024 - len(EMPTY_STRING_PARAMETER))

    assert document_check(document(big=text(big))) == document(big=canonical("string", big))


def test_it_refuses_a_document_over_64_kib():
    big = "x" * (64 * 1024 - len(EMPTY_STRING_PARAMETER) + 1)

    with pytest.raises(DocumentError) as refused:
        document_check(document(big=text(big)))

    assert str(refused.value) == "The configuration is 65537 bytes; at most 65536 are allowed."


def test_the_size_limit_counts_utf8_bytes_not_characters():
    """An é is two bytes in UTF-8: half as many characters reach the same size."""
    big = "é" * ((64 * 1024 - len(EMPTY_STRING_PARAMETER)) // 2 + 1)

    with pytest.raises(DocumentError) as refused:
        document_check(document(big=text(big)))

    assert str(refused.value) == "The configuration is 65537 bytes; at most 65536 are allowed."


# Publishing


def test_it_numbers_versions_from_1(db, staff):
    numbers = [
        config_services.config_import(document=FIRST, published_by=staff, note="Launch").number,
        config_services.config_import(document=SECOND).number,
        config_services.config_import(document=FIRST).number,
    ]

    assert numbers == [1, 2, 3]
    assert versions() == [
        (1, document_check(FIRST), "Launch"),
        (2, document_check(SECOND), ""),
        (3, document_check(FIRST), ""),
    ]
    assert ConfigVersion.objects.get(number=1).published_by == staff
    assert ConfigVersion.objects.get(number=2).published_by is None


def test_publishing_an_unchanged_draft_makes_no_version(db):
    config_services.config_import(document=FIRST)

    assert config_services.config_publish() is None
    assert config_services.config_import(document=FIRST) is None
    assert versions() == [(1, document_check(FIRST), "")]


def test_publishing_the_draft_makes_a_version_of_it(db):
    config_services.config_import(document=FIRST)
    ConfigParameter.objects.create(key="chat_enabled", value_type="boolean", default_value=True)

    version = config_services.config_publish(note="Chat on")

    assert version.number == 2
    assert versions() == [
        (1, document_check(FIRST), ""),
        (
            2,
            document_check({"parameters": {**FIRST["parameters"], "chat_enabled": flag(default=True)}}),
            "Chat on",
        ),
    ]


def test_a_bad_draft_is_not_published(db):
    config_services.config_import(document=FIRST)
    ConfigParameter.objects.create(key="limit", value_type="number", default_value="many")

    with pytest.raises(DocumentError) as refused:
        config_services.config_publish()

    assert str(refused.value) == "parameter 'limit', default: The value must be a number, not \"many\"."
    assert versions() == [(1, document_check(FIRST), "")]


def test_a_change_inside_a_json_value_from_1_to_true_is_published(db):
    """Apps read JSON: {"enabled": true} is not {"enabled": 1}, though Python's == says it is."""
    config_services.config_import(document=document(limits={"type": "json", "default": {"enabled": 1}}))

    version = config_services.config_import(
        document=document(limits={"type": "json", "default": {"enabled": True}})
    )

    assert version is not None
    assert config_services.config_live_document() == document(limits=canonical("json", {"enabled": True}))


# Importing


def test_the_draft_round_trips_through_an_import(db):
    messy = document(
        greeting=text("Hello", {"value": "Hi", "platforms": ["web", "ios", "web"], "signed_in": None}),
        chat_enabled=flag({"value": True, "app_versions": " >=2.0.0 ", "rollout_percent": 25}),
        limits={"type": "json", "default": {"daily": 10}, "description": "Per day."},
    )

    config_services.config_import(document=messy)

    assert config_services.config_draft_document() == document_check(messy)
    assert config_services.config_live_document() == document_check(messy)


def test_the_documents_are_empty_before_anything_is_published(db):
    assert config_services.config_draft_document() == {"parameters": {}}
    assert config_services.config_live_document() == {"parameters": {}}


def test_a_dry_run_changes_neither_the_draft_nor_the_versions(db):
    config_services.config_import(document=FIRST)

    preview = config_services.config_import(document=SECOND, dry_run=True)

    assert (preview.number, preview.document) == (2, document_check(SECOND))
    assert config_services.config_draft_document() == document_check(FIRST)
    assert versions() == [(1, document_check(FIRST), "")]


def test_a_dry_run_of_an_unchanged_document_says_so(db):
    config_services.config_import(document=FIRST)

    assert config_services.config_import(document=FIRST, dry_run=True) is None
    assert versions() == [(1, document_check(FIRST), "")]


def test_a_first_dry_run_leaves_nothing_behind(db):
    preview = config_services.config_import(document=FIRST, dry_run=True)

    assert preview.number == 1
    assert config_services.config_draft_document() == {"parameters": {}}
    assert versions() == []


def test_a_bad_document_changes_nothing(db):
    config_services.config_import(document=FIRST)
    bad = document(greeting=text("Hello"), chat_enabled=flag({"value": True, "rollout_percent": 101}))

    with pytest.raises(DocumentError) as refused:
        config_services.config_import(document=bad)

    assert str(refused.value) == f"parameter 'chat_enabled', rule 1: {ROLLOUT_RULE}"
    assert config_services.config_draft_document() == document_check(FIRST)
    assert versions() == [(1, document_check(FIRST), "")]


def test_an_import_replaces_the_whole_draft(db):
    config_services.config_import(document=THIRD)

    config_services.config_import(document=FIRST)

    assert list(ConfigParameter.objects.values_list("key", flat=True)) == ["greeting"]
    assert config_services.config_draft_document() == document_check(FIRST)


# Rolling back


def test_a_rollback_publishes_the_old_document_as_a_new_version(db, staff):
    first = config_services.config_import(document=FIRST)
    config_services.config_import(document=SECOND)

    version = config_services.config_rollback(version=first, published_by=staff)

    assert (version.number, version.note, version.published_by) == (3, "Rollback to version 1", staff)
    assert versions() == [
        (1, document_check(FIRST), ""),
        (2, document_check(SECOND), ""),
        (3, document_check(FIRST), "Rollback to version 1"),
    ]
    assert config_services.config_draft_document() == document_check(FIRST)


def test_a_rollback_drops_unpublished_draft_edits(db):
    first = config_services.config_import(document=FIRST)
    config_services.config_import(document=SECOND)
    ConfigParameter.objects.create(key="chat_enabled", value_type="boolean", default_value=True)

    config_services.config_rollback(version=first)

    assert config_services.config_draft_document() == document_check(FIRST)


def test_rolling_back_to_the_newest_version_makes_no_version(db):
    config_services.config_import(document=FIRST)
    second = config_services.config_import(document=SECOND)

    assert config_services.config_rollback(version=second) is None
    assert [number for number, _, _ in versions()] == [1, 2]


def test_the_live_configuration_is_the_newest_version(db):
    config_services.config_import(document=FIRST)
    config_services.config_import(document=THIRD)

    live = config_services.config_live()

    assert live.number == 2
    assert [parameter.key for parameter in live.parameters] == ["chat_enabled", "greeting"]
    assert config_services.config_live_document() == document_check(THIRD)
