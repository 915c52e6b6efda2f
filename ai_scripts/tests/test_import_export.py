import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ai_scripts.models import AIScript, AIScriptVersion

SAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "sample_scripts.json"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def write(tmp_path, data) -> str:
    path = tmp_path / "scripts.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def entry(name="greeting", **overrides):
    return {"script_name": name, "version": "1.0", "script_content": {"system": "Hi."}, **overrides}


def stored():
    return list(
        AIScript.objects.order_by("script_name").values_list(
            "script_name", "version", "script_content", "is_active"
        )
    )


def test_the_sample_file_imports(db):
    output = run("import_ai_scripts", str(SAMPLE))

    assert output == "created 4, updated 0, unchanged 0.\n"
    assert dict(AIScript.objects.values_list("script_name", "is_active")) == {
        "chat-assistant": True,
        "conversation-summary": True,
        "daily-briefing": False,
        "memory-extractor": True,
    }
    assert AIScriptVersion.objects.count() == 4
    assert AIScript.objects.get(script_name="chat-assistant").script_content["temperature"] == 0.7


def test_it_upserts_by_name_and_records_history(tmp_path, make_script):
    make_script("greeting", version="1.0", script_content={"system": "Hi."})
    make_script("farewell", version="1.0")
    make_script("untouched", version="1.0", is_active=False)

    output = run(
        "import_ai_scripts",
        write(
            tmp_path, [entry("greeting"), entry("farewell", version="2.0"), entry("new-one", is_active=False)]
        ),
    )

    assert output == "created 1, updated 1, unchanged 1.\n"
    assert stored() == [
        ("farewell", "2.0", {"system": "Hi."}, True),
        ("greeting", "1.0", {"system": "Hi."}, True),
        ("new-one", "1.0", {"system": "Hi."}, False),
        ("untouched", "1.0", {"system": "You are untouched."}, False),
    ]
    history = AIScriptVersion.objects.values_list("script__script_name", "version")
    assert sorted(history) == [
        ("farewell", "1.0"),
        ("farewell", "2.0"),
        ("greeting", "1.0"),
        ("new-one", "1.0"),
        ("untouched", "1.0"),
    ]


def test_an_existing_script_keeps_its_flag_when_the_entry_leaves_it_out(tmp_path, make_script):
    make_script("greeting", is_active=False)

    run("import_ai_scripts", write(tmp_path, [entry("greeting", version="2.0")]))

    assert stored() == [("greeting", "2.0", {"system": "Hi."}, False)]


def test_an_import_changes_the_etag(tmp_path, make_script, alice_client):
    make_script("greeting")
    etag = alice_client.get("/api/ai/scripts")["ETag"]

    run("import_ai_scripts", write(tmp_path, [entry("greeting", version="2.0")]))

    assert alice_client.get("/api/ai/scripts", HTTP_IF_NONE_MATCH=etag).status_code == 200


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            [entry("ok"), entry("bad", script_content=["a", "list"])],
            "entry 2 ('bad'): script_content: Script content must be a JSON object",
        ),
        ([entry("ok"), entry("Not A Slug")], "entry 2 ('Not A Slug'): script_name: Enter a valid"),
        (
            [entry("ok"), entry("long", version="v" * 21)],
            "entry 2 ('long'): version: Ensure this field has no more than 20 characters.",
        ),
        (
            [entry("ok"), entry("big", script_content={"s": "x" * 70_000})],
            "entry 2 ('big'): script_content: Script content is 70008 bytes",
        ),
        (
            [entry("ok"), {"version": "1.0", "script_content": {}}],
            "entry 2: script_name: This field is required.",
        ),
        ([entry("ok"), entry("typo", is_actve=True)], "entry 2 ('typo'): unknown field(s) is_actve."),
        ([entry("ok"), entry("ok")], "entry 2 ('ok'): script_name appears more than once in the file."),
        ([entry("ok"), "just a string"], "entry 2: must be a JSON object."),
        ({"script_name": "ok"}, "The file must hold a JSON list of scripts."),
    ],
)
def test_an_invalid_entry_changes_nothing_and_is_named(tmp_path, make_script, entries, message):
    make_script("ok", version="0.1")

    with pytest.raises(CommandError) as error:
        run("import_ai_scripts", write(tmp_path, entries))

    assert message in str(error.value)
    assert str(error.value).endswith("Nothing was changed.")
    assert stored() == [("ok", "0.1", {"system": "You are ok."}, True)]
    assert AIScriptVersion.objects.count() == 1


def test_a_file_that_is_not_json_is_refused(tmp_path, db):
    with pytest.raises(
        CommandError, match=r"scripts.json is not valid JSON: Expecting value: line 1 column 1"
    ):
        run("import_ai_scripts", write(tmp_path, "not json"))

    assert AIScript.objects.count() == 0


def test_a_missing_file_is_refused(tmp_path, db):
    with pytest.raises(CommandError, match=r"Cannot read .*missing.json: No such file or directory."):
        run("import_ai_scripts", str(tmp_path / "missing.json"))


def test_a_dry_run_reports_and_changes_nothing(tmp_path, make_script, alice_client):
    make_script("greeting")
    etag = alice_client.get("/api/ai/scripts")["ETag"]

    output = run(
        "import_ai_scripts",
        write(tmp_path, [entry("greeting", version="2.0"), entry("new")]),
        "--dry-run",
    )

    assert output == "Dry run, nothing changed: would have created 1, updated 1, unchanged 0.\n"
    assert stored() == [("greeting", "1.0", {"system": "You are greeting."}, True)]
    assert AIScriptVersion.objects.count() == 1
    assert alice_client.get("/api/ai/scripts", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_a_dry_run_still_names_the_bad_entry(tmp_path, db):
    with pytest.raises(CommandError, match=r"entry 1 \('bad'\): script_content"):
        run("import_ai_scripts", write(tmp_path, [entry("bad", script_content=3)]), "--dry-run")


def test_the_export_is_sorted_and_stable(make_script):
    make_script("zeta", version="2.0", script_content={"b": 1, "a": "ü"}, is_active=False)
    make_script("alpha")

    output = run("export_ai_scripts")

    assert output == (
        "[\n"
        "  {\n"
        '    "is_active": true,\n'
        '    "script_content": {\n'
        '      "system": "You are alpha."\n'
        "    },\n"
        '    "script_name": "alpha",\n'
        '    "version": "1.0"\n'
        "  },\n"
        "  {\n"
        '    "is_active": false,\n'
        '    "script_content": {\n'
        '      "a": "ü",\n'
        '      "b": 1\n'
        "    },\n"
        '    "script_name": "zeta",\n'
        '    "version": "2.0"\n'
        "  }\n"
        "]\n"
    )
    assert run("export_ai_scripts") == output


def test_the_export_reads_back_unchanged(tmp_path, db):
    run("import_ai_scripts", str(SAMPLE))
    exported = tmp_path / "export.json"
    run("export_ai_scripts", str(exported))
    first = exported.read_text(encoding="utf-8")

    same_again = run("import_ai_scripts", str(exported))
    AIScript.objects.all().delete()
    into_empty = run("import_ai_scripts", str(exported))
    run("export_ai_scripts", str(exported))

    assert same_again == "created 0, updated 0, unchanged 4.\n"
    assert into_empty == "created 4, updated 0, unchanged 0.\n"
    assert exported.read_text(encoding="utf-8") == first
    assert json.loads(first) == sorted(
        json.loads(SAMPLE.read_text(encoding="utf-8")), key=lambda e: e["script_name"]
    )
