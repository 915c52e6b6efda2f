import pytest
from django.contrib.auth.models import Permission

from accounts.models import User
from ai_scripts import services
from ai_scripts.models import AIScriptVersion
from ai_scripts.tests.admin_forms import CHANGELIST, change_url, form_data

API = "/api/ai/scripts"


def test_the_history_is_shown_read_only_on_the_script_page(staff_client, make_script):
    script = make_script("greeting", version="1.0")
    staff_client.post(change_url(script), form_data(version="1.1", script_content='{"system": "v1.1"}'))

    response = staff_client.get(change_url(script))

    assert response.status_code == 200
    inline = response.context["inline_admin_formsets"][0]
    assert inline.has_change_permission is False
    assert inline.has_add_permission is False
    assert inline.has_delete_permission is False
    records = list(AIScriptVersion.objects.filter(script=script))
    assert [record.version for record in records] == ["1.1", "1.0"]
    for record in records:
        assert f"{CHANGELIST}{script.pk}/restore/{record.pk}/".encode() in response.content


def test_staff_can_restore_an_earlier_version(staff_client, staff, make_script, alice_client):
    script = make_script("greeting", version="1.0", script_content={"system": "First."})
    staff_client.post(change_url(script), form_data(version="2.0", script_content='{"system": "Second."}'))
    first = AIScriptVersion.objects.get(version="1.0")
    url = f"{CHANGELIST}{script.pk}/restore/{first.pk}/"
    etag = alice_client.get(API)["ETag"]

    confirmation = staff_client.get(url)
    response = staff_client.post(url)

    assert confirmation.status_code == 200
    assert b"First." in confirmation.content
    assert response.status_code == 302
    assert response["Location"] == change_url(script)
    script.refresh_from_db()
    assert (script.version, script.script_content, script.is_active) == ("1.0", {"system": "First."}, True)
    history = list(AIScriptVersion.objects.filter(script=script).values_list("version", "changed_by"))
    assert history == [("1.0", staff.pk), ("2.0", staff.pk), ("1.0", None)]
    after = alice_client.get(API, HTTP_IF_NONE_MATCH=etag)
    assert after.status_code == 200
    assert after.json()[0]["script_content"] == {"system": "First."}


def test_restoring_keeps_the_active_flag(staff_client, make_script):
    script = make_script("greeting", version="1.0")
    staff_client.post(CHANGELIST, {"action": "deactivate", "_selected_action": [script.pk]})
    staff_client.post(change_url(script), form_data(version="2.0", is_active=None))
    first = AIScriptVersion.objects.filter(version="1.0", is_active=True).get()

    response = staff_client.post(f"{CHANGELIST}{script.pk}/restore/{first.pk}/")

    assert response.status_code == 302
    script.refresh_from_db()
    assert (script.version, script.is_active) == ("1.0", False)


def test_a_version_of_another_script_cannot_be_restored(staff_client, make_script):
    script = make_script("greeting")
    other = make_script("other", version="9.9")
    record = AIScriptVersion.objects.get(script=other)

    response = staff_client.post(f"{CHANGELIST}{script.pk}/restore/{record.pk}/")

    assert response.status_code == 404
    script.refresh_from_db()
    assert script.version == "1.0"


@pytest.fixture
def editor_client(client, db):
    """Staff who may only view and change scripts, as an editor would be set up."""
    editor = User.objects.create_user(email="editor@example.com", is_staff=True)
    editor.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="ai_scripts", codename__in=["view_aiscript", "change_aiscript"]
        )
    )
    client.force_login(editor)
    return client


def test_editors_see_the_history_and_can_restore(editor_client, make_script):
    script = make_script("greeting", version="1.0")
    editor_client.post(change_url(script), form_data(version="2.0"))
    first = AIScriptVersion.objects.get(version="1.0")

    page = editor_client.get(change_url(script))
    response = editor_client.post(f"{CHANGELIST}{script.pk}/restore/{first.pk}/")

    assert page.status_code == 200
    assert f"{CHANGELIST}{script.pk}/restore/{first.pk}/".encode() in page.content
    assert response.status_code == 302
    script.refresh_from_db()
    assert script.version == "1.0"


def test_staff_who_may_only_view_cannot_restore(client, make_script):
    viewer = User.objects.create_user(email="viewer@example.com", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_aiscript"))
    client.force_login(viewer)
    script = make_script("greeting", version="1.0")
    script.version = "2.0"
    services.script_save(script=script)
    first = AIScriptVersion.objects.get(version="1.0")

    response = client.post(f"{CHANGELIST}{script.pk}/restore/{first.pk}/")

    assert response.status_code == 403
    script.refresh_from_db()
    assert script.version == "2.0"
