import pytest
from django.db import transaction

from ai_scripts import services
from ai_scripts.models import AIScript, AIScriptVersion
from testing.helpers import run_concurrently


def history(script):
    return list(
        AIScriptVersion.objects.filter(script=script).values_list("version", "script_content", "is_active")
    )


def test_creating_a_script_records_its_first_version(make_script):
    script = make_script("greeting", version="1.0")

    record = AIScriptVersion.objects.get()
    assert (record.script, record.version, record.script_content, record.is_active) == (
        script,
        "1.0",
        {"system": "You are greeting."},
        True,
    )
    assert record.changed_at == script.updated_at == script.created_at


def test_every_change_records_the_new_state_with_who_and_when(make_script, alice):
    script = make_script("greeting", version="1.0")
    created_at = script.created_at

    script.version, script.script_content = "1.1", {"system": "Newer."}
    assert services.script_save(script=script, changed_by=alice) is True

    script.refresh_from_db()
    assert script.created_at == created_at
    assert script.updated_at > created_at
    newest = AIScriptVersion.objects.filter(script=script).first()
    assert (newest.version, newest.changed_by, newest.changed_at) == ("1.1", alice, script.updated_at)
    assert history(script) == [
        ("1.1", {"system": "Newer."}, True),
        ("1.0", {"system": "You are greeting."}, True),
    ]


def test_an_unchanged_save_records_nothing(make_script):
    script = make_script("greeting")
    updated_at = script.updated_at

    assert services.script_save(script=AIScript.objects.get(pk=script.pk)) is False

    script.refresh_from_db()
    assert script.updated_at == updated_at
    assert AIScriptVersion.objects.count() == 1


def test_restoring_brings_back_a_version_and_records_it(make_script, alice):
    script = make_script("greeting", version="1.0", script_content={"system": "First."})
    script.version, script.script_content = "2.0", {"system": "Second."}
    services.script_save(script=script)
    first = AIScriptVersion.objects.get(version="1.0")

    restored = services.script_restore(record=first, changed_by=alice)

    script.refresh_from_db()
    assert restored is True
    assert (script.version, script.script_content) == ("1.0", {"system": "First."})
    assert history(script)[0] == ("1.0", {"system": "First."}, True)
    assert AIScriptVersion.objects.filter(script=script).first().changed_by == alice


def test_restoring_the_current_state_records_nothing(make_script):
    script = make_script("greeting")

    assert services.script_restore(record=AIScriptVersion.objects.get()) is False

    assert AIScriptVersion.objects.count() == 1
    assert AIScript.objects.values_list("updated_at", flat=True).get() == script.updated_at


def test_the_history_outlives_the_user_who_made_it(make_script, alice):
    script = make_script("greeting")
    script.version = "2.0"
    services.script_save(script=script, changed_by=alice)

    alice.delete()

    assert list(AIScriptVersion.objects.values_list("version", "changed_by")) == [
        ("2.0", None),
        ("1.0", None),
    ]


def test_the_etag_moves_only_when_a_change_commits(make_script):
    script = make_script("greeting")
    etag = services.scripts_etag()

    with transaction.atomic():
        script.version = "2.0"
        services.script_save(script=script)
        transaction.set_rollback(True)
    unchanged = services.scripts_etag()
    script.version = "3.0"
    services.script_save(script=script)

    assert unchanged == etag
    assert services.scripts_etag() != etag
    assert AIScript.objects.values_list("version", flat=True).get() == "3.0"


@pytest.mark.django_db(transaction=True)
def test_concurrent_deactivations_record_one_change():
    script = AIScript(script_name="greeting", version="1.0", script_content={"system": "Hi."})
    services.script_save(script=script)

    def deactivate():
        return services.scripts_set_active(scripts=AIScript.objects.filter(pk=script.pk), is_active=False)

    counts = run_concurrently(*[deactivate] * 4)

    assert sorted(counts) == [0, 0, 0, 1]
    assert history(script) == [("1.0", {"system": "Hi."}, False), ("1.0", {"system": "Hi."}, True)]
