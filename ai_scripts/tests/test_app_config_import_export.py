"""export_app_config and import_app_config: the published app configuration as a JSON file."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ai_scripts import config_services
from ai_scripts.models import ConfigParameter, ConfigVersion
from ai_scripts.tests.config_draft import draft_parameters, draft_rules

MAX_ITEMS = {
    "parameters": {
        "max_items": {
            "type": "number",
            "default": 4,
            "description": "",
            "rules": [{"value": 6, "platforms": ["ios"]}],
        }
    }
}

MAX_ITEMS_EXPORTED = """{
  "parameters": {
    "max_items": {
      "default": 4,
      "description": "",
      "rules": [
        {
          "platforms": [
            "ios"
          ],
          "value": 6
        }
      ],
      "type": "number"
    }
  }
}
"""

# Every type, every condition, and the values that are easy to lose on the way: 0, 2.5, "",
# {}, text beyond ASCII, false in a rule.
EVERYTHING = {
    "parameters": {
        "chat_enabled": {
            "type": "boolean",
            "default": True,
            "description": "Chat for everyone",
            "rules": [
                {"value": False, "platforms": ["android", "ios"], "app_versions": ">=2.1.0 <3.0.0"},
                {"value": False, "signed_in": False},
                {"value": True, "signed_in": True, "rollout_percent": 25},
            ],
        },
        "greeting": {
            "type": "string",
            "default": "Grüß dich",
            "description": "",
            "rules": [{"value": "", "platforms": ["web"]}, {"value": "  Hi  ", "rollout_percent": 0}],
        },
        "max_items": {
            "type": "number",
            "default": 0,
            "description": "",
            "rules": [{"value": 2.5, "app_versions": "!=2.0.0"}, {"value": -3, "rollout_percent": 100}],
        },
        "minimum_app_version": {
            "type": "string",
            "default": "",
            "description": "",
            "rules": [{"value": "2.1.0", "platforms": ["android"], "app_versions": "<2.1.0"}],
        },
        "theme": {
            "type": "json",
            "default": {"color": "blue", "sizes": [1, 2], "dark": None},
            "description": "",
            "rules": [{"value": {}, "platforms": ["linux", "macos", "windows"], "signed_in": True}],
        },
    }
}


def run(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def write(tmp_path, data, name="config.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def versions():
    return list(ConfigVersion.objects.order_by("number").values_list("number", "note", "document"))


@pytest.fixture
def published(db):
    """Version 1 holds MAX_ITEMS; the draft is the same."""
    return config_services.config_import(document=MAX_ITEMS, note="seed")


# Export.


def test_export_before_anything_is_published_is_empty(db):
    assert run("export_app_config") == '{\n  "parameters": {}\n}\n'


def test_export_writes_the_published_configuration_sorted_and_indented(published):
    assert run("export_app_config") == MAX_ITEMS_EXPORTED


def test_export_writes_to_a_file(published, tmp_path):
    path = str(tmp_path / "out.json")

    output = run("export_app_config", path)

    assert output == f"Wrote {path}.\n"
    assert (tmp_path / "out.json").read_text(encoding="utf-8") == MAX_ITEMS_EXPORTED


def test_export_leaves_out_unpublished_draft_edits(published):
    ConfigParameter.objects.filter(key="max_items").update(default_value=99)
    ConfigParameter.objects.create(key="new_flag", value_type="boolean", default_value=True)

    assert run("export_app_config") == MAX_ITEMS_EXPORTED


# Import.


def test_import_publishes_the_file_and_replaces_the_draft(published, tmp_path):
    ConfigParameter.objects.create(key="unpublished", value_type="boolean", default_value=True)
    path = write(tmp_path, {"parameters": {"chat_enabled": {"type": "boolean", "default": False}}})

    output = run("import_app_config", path)

    assert output == "Published version 2.\n"
    assert versions()[1] == (
        2,
        f"Imported from {path}",
        {
            "parameters": {
                "chat_enabled": {"type": "boolean", "default": False, "description": "", "rules": []}
            }
        },
    )
    assert ConfigVersion.objects.get(number=2).published_by is None
    assert draft_parameters() == [("chat_enabled", "boolean", False, "")]
    assert draft_rules() == []


def test_import_keeps_the_note(db, tmp_path):
    output = run("import_app_config", write(tmp_path, MAX_ITEMS), note="Fewer items on iOS")

    assert output == "Published version 1.\n"
    assert versions() == [(1, "Fewer items on iOS", MAX_ITEMS)]


def test_importing_what_apps_receive_already_makes_no_version(published, tmp_path):
    path = write(tmp_path, MAX_ITEMS)

    output = run("import_app_config", path)

    assert output == "Unchanged: apps receive this configuration already.\n"
    assert versions() == [(1, "seed", MAX_ITEMS)]


def test_importing_the_same_file_twice_publishes_once(db, tmp_path):
    path = write(tmp_path, MAX_ITEMS)

    first = run("import_app_config", path)
    second = run("import_app_config", path)

    assert (first, second) == (
        "Published version 1.\n",
        "Unchanged: apps receive this configuration already.\n",
    )
    assert versions() == [(1, f"Imported from {path}", MAX_ITEMS)]


def test_a_dry_run_changes_nothing(published, tmp_path):
    path = write(tmp_path, {"parameters": {}})

    output = run("import_app_config", path, "--dry-run")

    assert output == "Dry run, nothing changed: would have published version 2.\n"
    assert versions() == [(1, "seed", MAX_ITEMS)]
    assert draft_parameters() == [("max_items", "number", 4, "")]
    assert draft_rules() == [("max_items", 1, ["ios"], "", None, None, 6)]


# Round trips.


def test_export_then_import_into_an_empty_database_gives_the_same_file(published, tmp_path):
    before = tmp_path / "before.json"
    after = tmp_path / "after.json"
    run("export_app_config", str(before))
    ConfigVersion.objects.all().delete()
    ConfigParameter.objects.all().delete()

    output = run("import_app_config", str(before))
    run("export_app_config", str(after))

    assert output == "Published version 1.\n"
    assert after.read_bytes() == before.read_bytes() == MAX_ITEMS_EXPORTED.encode()


def test_every_type_and_condition_survives_the_round_trip(db, tmp_path):
    source = write(tmp_path, EVERYTHING, name="everything.json")
    exported = tmp_path / "exported.json"

    run("import_app_config", source)
    run("export_app_config", str(exported))

    assert json.loads(exported.read_text(encoding="utf-8")) == EVERYTHING
    assert '"default": "Grüß dich"' in exported.read_text(encoding="utf-8")
    assert draft_rules() == [
        ("chat_enabled", 1, ["android", "ios"], ">=2.1.0 <3.0.0", None, None, False),
        ("chat_enabled", 2, [], "", False, None, False),
        ("chat_enabled", 3, [], "", True, 25, True),
        ("greeting", 1, ["web"], "", None, None, ""),
        ("greeting", 2, [], "", None, 0, "  Hi  "),
        ("max_items", 1, [], "!=2.0.0", None, None, 2.5),
        ("max_items", 2, [], "", None, 100, -3),
        ("minimum_app_version", 1, ["android"], "<2.1.0", None, None, "2.1.0"),
        ("theme", 1, ["linux", "macos", "windows"], "", True, None, {}),
    ]

    ConfigVersion.objects.all().delete()
    ConfigParameter.objects.all().delete()
    run("import_app_config", str(exported))
    again = tmp_path / "again.json"
    run("export_app_config", str(again))
    assert again.read_bytes() == exported.read_bytes()


# Errors change nothing.


def assert_unchanged():
    assert versions() == [(1, "seed", MAX_ITEMS)]
    assert draft_parameters() == [("max_items", "number", 4, "")]
    assert draft_rules() == [("max_items", 1, ["ios"], "", None, None, 6)]


def test_a_missing_file_is_an_error(published, tmp_path):
    path = str(tmp_path / "missing.json")

    with pytest.raises(CommandError) as error:
        run("import_app_config", path)

    assert str(error.value) == f"Cannot read {path}: No such file or directory."
    assert_unchanged()


def test_a_file_that_is_not_json_is_an_error(published, tmp_path):
    path = write(tmp_path, '{"parameters": {')

    with pytest.raises(CommandError) as error:
        run("import_app_config", path)

    assert str(error.value) == (
        f"{path} is not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 17 (char 16)."
    )
    assert_unchanged()


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            {
                "parameters": {
                    "chat_enabled": {
                        "type": "boolean",
                        "default": False,
                        "rules": [{"value": True}, {"value": 1}],
                    }
                }
            },
            "parameter 'chat_enabled', rule 2: The value must be a boolean, not 1.",
        ),
        (
            {"parameters": {"chat_enabled": {"type": "boolean", "default": "no"}}},
            "parameter 'chat_enabled', default: The value must be a boolean, not \"no\".",
        ),
        (
            {"parameters": {"Chat-Enabled": {"type": "boolean", "default": False}}},
            "parameter 'Chat-Enabled': A key is a lowercase letter, then lowercase letters, digits or "
            "underscores (at most 100), e.g. chat_enabled.",
        ),
        (
            {
                "parameters": {
                    "chat_enabled": {
                        "type": "boolean",
                        "default": False,
                        "rules": [{"value": True, "platforms": ["ios", "bsd"]}],
                    }
                }
            },
            "parameter 'chat_enabled', rule 1: platforms: A list of platforms out of android, ios, web, "
            "macos, windows, linux; empty matches every platform.",
        ),
        (
            {
                "parameters": {
                    "chat_enabled": {
                        "type": "boolean",
                        "default": False,
                        "rules": [{"value": True, "app_versions": ">= 2"}],
                    }
                }
            },
            "parameter 'chat_enabled', rule 1: app_versions: '>=' is not a version comparison. Write full "
            "versions with >=, >, <=, <, = or !=, separated by spaces, e.g. >=2.1.0 <3.0.0.",
        ),
        (
            {
                "parameters": {
                    "chat_enabled": {
                        "type": "boolean",
                        "default": False,
                        "rules": [{"value": True, "rollout_percent": 101}],
                    }
                }
            },
            "parameter 'chat_enabled', rule 1: rollout_percent must be a whole number from 0 to 100.",
        ),
        (
            {"parameters": {"minimum_app_version": {"type": "string", "default": "2.1"}}},
            "parameter 'minimum_app_version', default: minimum_app_version holds a full semver version "
            "such as 2.1.0, or nothing.",
        ),
        ([{"max_items": 4}], 'The configuration must be a JSON object {"parameters": {...}}.'),
    ],
    ids=[
        "rule of the wrong type",
        "default of the wrong type",
        "bad key",
        "unknown platform",
        "malformed range",
        "rollout 101",
        "minimum not semver",
        "not an object",
    ],
)
def test_a_bad_document_is_an_error_naming_the_bad_part(published, tmp_path, document, reason):
    path = write(tmp_path, document)

    with pytest.raises(CommandError) as error:
        run("import_app_config", path)

    assert str(error.value) == f"{path}: {reason} Nothing was changed."
    assert_unchanged()


def test_a_bad_document_is_an_error_in_a_dry_run_too(published, tmp_path):
    path = write(tmp_path, {"parameters": {"max_items": {"type": "number", "default": "4"}}})

    with pytest.raises(CommandError) as error:
        run("import_app_config", path, "--dry-run")

    assert str(error.value) == (
        f"{path}: parameter 'max_items', default: The value must be a number, not \"4\". Nothing was changed."
    )
    assert_unchanged()
