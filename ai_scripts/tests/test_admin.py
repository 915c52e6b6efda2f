import json

import pytest

from ai_scripts.models import AIScript, AIScriptVersion
from ai_scripts.tests.admin_forms import CHANGELIST, change_url, form_data

API = "/api/ai/scripts"


def test_staff_see_scripts_listed_by_name(staff_client, make_script):
    make_script("zeta", version="2.0")
    make_script("alpha", version="1.5", is_active=False)

    response = staff_client.get(CHANGELIST)

    assert response.status_code == 200
    assert [script.script_name for script in response.context["cl"].result_list] == ["alpha", "zeta"]
    assert response.context["cl"].list_display == [
        "action_checkbox",
        "script_name",
        "version",
        "is_active",
        "updated_at",
    ]


def test_staff_can_search_and_filter_scripts(staff_client, make_script):
    make_script("chat-assistant")
    make_script("memory-extractor", is_active=False)
    make_script("memory-summary")

    searched = staff_client.get(CHANGELIST, {"q": "memory"})
    filtered = staff_client.get(CHANGELIST, {"is_active__exact": "0"})

    assert [s.script_name for s in searched.context["cl"].result_list] == [
        "memory-extractor",
        "memory-summary",
    ]
    assert [s.script_name for s in filtered.context["cl"].result_list] == ["memory-extractor"]


def test_the_content_is_edited_as_pretty_printed_json(staff_client, make_script):
    script = make_script("greeting", script_content={"system": "Hi", "temperature": 0.5})

    response = staff_client.get(change_url(script))

    assert response.status_code == 200
    pretty = "{\n  &quot;system&quot;: &quot;Hi&quot;,\n  &quot;temperature&quot;: 0.5\n}</textarea>"
    assert pretty in response.content.decode()


def test_the_add_page_renders(staff_client):
    response = staff_client.get(f"{CHANGELIST}add/")

    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields) == [
        "script_name",
        "version",
        "script_content",
        "is_active",
    ]


def test_staff_can_add_a_script_and_it_is_recorded(staff_client, staff, alice_client):
    response = staff_client.post(f"{CHANGELIST}add/", form_data())

    assert response.status_code == 302
    script = AIScript.objects.get()
    assert (script.script_name, script.version, script.script_content, script.is_active) == (
        "greeting",
        "1.0",
        {"system": "Hello."},
        True,
    )
    record = AIScriptVersion.objects.get()
    assert (record.script, record.version, record.changed_by) == (script, "1.0", staff)
    assert alice_client.get(API).json()[0]["script_name"] == "greeting"


def test_an_edit_in_the_admin_changes_the_etag_at_once(staff_client, staff, make_script, alice_client):
    script = make_script("greeting")
    etag = alice_client.get(API)["ETag"]

    response = staff_client.post(
        change_url(script), form_data(version="1.1", script_content='{"system": "Hello again."}')
    )

    assert response.status_code == 302
    after = alice_client.get(API, HTTP_IF_NONE_MATCH=etag)
    assert after.status_code == 200
    assert after["ETag"] != etag
    assert after.json()[0]["version"] == "1.1"
    history = list(AIScriptVersion.objects.values_list("version", "script_content", "changed_by"))
    assert history == [
        ("1.1", {"system": "Hello again."}, staff.pk),
        ("1.0", {"system": "You are greeting."}, None),
    ]


def test_saving_without_a_change_records_nothing(staff_client, make_script, alice_client):
    script = make_script("greeting", script_content={"system": "Hello."})
    etag = alice_client.get(API)["ETag"]

    response = staff_client.post(change_url(script), form_data())

    assert response.status_code == 302
    assert AIScriptVersion.objects.count() == 1
    assert alice_client.get(API, HTTP_IF_NONE_MATCH=etag).status_code == 304


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (
            '{"system": "unterminated',
            "This is not valid JSON: Unterminated string starting at: line 1 column 12",
        ),
        ('["a", "list"]', 'Script content must be a JSON object, like {"system": "..."}.'),
        ('"just a string"', 'Script content must be a JSON object, like {"system": "..."}.'),
        ("42", 'Script content must be a JSON object, like {"system": "..."}.'),
        (json.dumps({"system": "x" * 70_000}), "at most 65536 bytes are allowed"),
        ("", "This field is required."),
    ],
)
def test_the_admin_refuses_content_that_is_not_a_json_object(staff_client, make_script, content, error):
    script = make_script("greeting")

    response = staff_client.post(change_url(script), form_data(version="2.0", script_content=content))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["script_content"]
    assert len(errors) == 1
    assert error in errors[0]
    script.refresh_from_db()
    assert (script.version, script.script_content) == ("1.0", {"system": "You are greeting."})
    assert AIScriptVersion.objects.count() == 1


def test_the_admin_keeps_what_staff_typed_when_the_json_is_invalid(staff_client, make_script):
    script = make_script("greeting")

    response = staff_client.post(change_url(script), form_data(script_content='{"system": oops}'))

    assert response.status_code == 200
    assert b"{&quot;system&quot;: oops}" in response.content


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"script_name": "not a slug"}, "script_name"),
        ({"version": "v" * 21}, "version"),
        ({"version": ""}, "version"),
    ],
)
def test_the_admin_validates_the_name_and_version(staff_client, make_script, overrides, field):
    script = make_script("greeting")

    response = staff_client.post(change_url(script), form_data(**overrides))

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [field]
    assert AIScript.objects.values_list("script_name", "version").get() == ("greeting", "1.0")


def test_a_taken_name_is_a_form_error(staff_client, make_script):
    make_script("greeting")

    response = staff_client.post(f"{CHANGELIST}add/", form_data())

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["script_name"] == [
        "AI script with this Script name already exists."
    ]
    assert AIScript.objects.count() == 1


@pytest.mark.parametrize(("action", "active_after"), [("activate", True), ("deactivate", False)])
def test_staff_can_activate_and_deactivate_scripts(
    staff_client, staff, make_script, alice_client, action, active_after
):
    chosen = make_script("chosen", is_active=not active_after)
    other = make_script("other", is_active=not active_after)
    etag = alice_client.get(API)["ETag"]

    response = staff_client.post(CHANGELIST, {"action": action, "_selected_action": [chosen.pk]}, follow=True)

    assert response.status_code == 200
    assert dict(AIScript.objects.values_list("script_name", "is_active")) == {
        "chosen": active_after,
        "other": not active_after,
    }
    newest = AIScriptVersion.objects.filter(script=chosen).first()
    assert (newest.is_active, newest.changed_by) == (active_after, staff)
    assert AIScriptVersion.objects.filter(script=other).count() == 1
    assert alice_client.get(API, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_activating_an_active_script_records_nothing(staff_client, make_script):
    script = make_script("greeting")

    response = staff_client.post(
        CHANGELIST, {"action": "activate", "_selected_action": [script.pk]}, follow=True
    )

    assert response.status_code == 200
    assert AIScriptVersion.objects.count() == 1
    assert b"Activated 0 script(s)." in response.content


def test_deleting_a_script_changes_the_etag(staff_client, make_script, alice_client):
    script = make_script("greeting")
    etag = alice_client.get(API)["ETag"]

    response = staff_client.post(f"{CHANGELIST}{script.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert AIScript.objects.count() == 0
    assert AIScriptVersion.objects.count() == 0
    after = alice_client.get(API, HTTP_IF_NONE_MATCH=etag)
    assert (after.status_code, after.json()) == (200, [])


def test_non_staff_cannot_reach_the_admin(client, alice, make_script):
    script = make_script("greeting")
    record = AIScriptVersion.objects.get()
    client.force_login(alice)

    for url in [CHANGELIST, change_url(script), f"{CHANGELIST}{script.pk}/restore/{record.pk}/"]:
        response = client.post(url) if "restore" in url else client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert AIScriptVersion.objects.count() == 1
