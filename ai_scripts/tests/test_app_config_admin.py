"""The remote app configuration in the admin: the draft (parameters with inline rules), the
changelist banner, publish with its diff, preview, the published versions and rollback."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from ai_scripts import config_services, services
from ai_scripts.models import AIScriptVersion, ConfigParameter, ConfigRule, ConfigVersion
from ai_scripts.tests.admin_forms import CHANGELIST as SCRIPTS
from ai_scripts.tests.admin_forms import change_url as script_change_url
from ai_scripts.tests.config_draft import draft_parameters, draft_rules

PARAMETERS = "/admin/ai_scripts/configparameter/"
ADD = f"{PARAMETERS}add/"
PUBLISH = f"{PARAMETERS}publish/"
PREVIEW = f"{PARAMETERS}preview/"
VERSIONS = "/admin/ai_scripts/configversion/"
API = "/api/config/app-config"

NOTHING_PUBLISHED = "Nothing is published yet"
DRAFT_DIFFERS = "This draft has changes apps do not receive until it is published."
DRAFT_EQUALS = "The draft equals what apps receive."


def change_url(parameter):
    return f"{PARAMETERS}{parameter.pk}/change/"


def rollback_url(version):
    return f"{VERSIONS}{version.pk}/rollback/"


def form_data(*rules, initial_rules=0, **overrides):
    """The parameter form as a browser posts it, with one inline form per rule (dicts of the
    rule form's fields without the `rules-N-` prefix)."""
    data = {
        "key": "chat_enabled",
        "value_type": "boolean",
        "default_value": "false",
        "description": "",
        "rules-TOTAL_FORMS": str(len(rules)),
        "rules-INITIAL_FORMS": str(initial_rules),
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    for index, rule in enumerate(rules):
        fields = {
            "position": str(index + 1),
            "app_versions": "",
            "signed_in": "unknown",
            "rollout_percent": "",
        }
        fields.update(rule)
        data.update({f"rules-{index}-{name}": value for name, value in fields.items()})
    return data


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def form_errors(response):
    return response.context["adminform"].form.errors.get_json_data()


def rule_errors(response):
    """Each inline rule form's errors, messages only."""
    formset = response.context["inline_admin_formsets"][0].formset
    return [
        {
            field: [error["message"] for error in errors]
            for field, errors in form.errors.get_json_data().items()
        }
        for form in formset.forms
    ]


def field_messages(response, field):
    return [error["message"] for error in form_errors(response).get(field, [])]


@pytest.fixture
def make_parameter(db):
    """A draft parameter written directly, with rules given as dicts of ConfigRule fields."""

    def make(key="chat_enabled", value_type="boolean", default=False, *rules, description=""):
        parameter = ConfigParameter.objects.create(
            key=key, value_type=value_type, default_value=default, description=description
        )
        for position, rule in enumerate(rules, start=1):
            ConfigRule.objects.create(parameter=parameter, position=position, **rule)
        return parameter

    return make


@pytest.fixture
def publish(staff):
    """Publishes the draft as staff, as the Publish button does."""

    def publish(note=""):
        return config_services.config_publish(published_by=staff, note=note)

    return publish


# The draft, through the add and change forms.


def test_staff_can_add_a_parameter_with_rules(staff_client, api_client):
    """Rules arrive as the inline formset; nothing reaches apps before a publish."""
    response = staff_client.post(
        ADD,
        form_data(
            {
                "platforms": ["ios", "android"],
                "app_versions": ">=2.1.0 <3.0.0",
                "signed_in": "true",
                "rollout_percent": "50",
                "value": "0.5",
            },
            {"signed_in": "false", "value": "10"},
            {"value": "-1"},
            key="max_items",
            value_type="number",
            default_value="4",
            description="How many items a page shows",
        ),
    )

    assert response.status_code == 302
    assert response["Location"] == PARAMETERS
    assert draft_parameters() == [("max_items", "number", 4, "How many items a page shows")]
    assert draft_rules() == [
        ("max_items", 1, ["ios", "android"], ">=2.1.0 <3.0.0", True, 50, 0.5),
        ("max_items", 2, [], "", False, None, 10),
        ("max_items", 3, [], "", None, None, -1),
    ]
    assert ConfigVersion.objects.count() == 0
    assert (
        messages_of(response)[0] == "Saved to the draft: apps receive it once the configuration is published."
    )
    assert api_client.get(API).json() == {"config_version": 0, "parameters": {}, "update_required": False}


@pytest.mark.parametrize(
    ("value_type", "text", "stored"),
    [
        ("boolean", "true", True),
        ("boolean", " False ", False),
        ("number", "4", 4),
        ("number", "0.5", 0.5),
        ("string", "  Hello, world  ", "  Hello, world  "),
        ("string", "true", "true"),
        ("string", "", ""),
        ("json", '{"color": "blue", "sizes": [1, 2]}', {"color": "blue", "sizes": [1, 2]}),
        ("json", "{}", {}),
    ],
    ids=[
        "boolean true",
        "boolean False",
        "number 4",
        "number 0.5",
        "string with spaces",
        "string true",
        "empty string",
        "json object",
        "empty json object",
    ],
)
def test_the_default_is_stored_as_a_value_of_the_parameters_type(staff_client, value_type, text, stored):
    response = staff_client.post(ADD, form_data(key="setting", value_type=value_type, default_value=text))

    assert response.status_code == 302
    default = ConfigParameter.objects.get(key="setting").default_value
    # The type too: 4 must not come back as 4.0 or True as 1.
    assert (default, type(default)) == (stored, type(stored))


@pytest.mark.parametrize(
    ("overrides", "field", "errors"),
    [
        ({"default_value": "yes"}, "default_value", ["Write true or false."]),
        (
            {"value_type": "number", "default_value": "abc"},
            "default_value",
            ["Write a number such as 4 or 0.5 (Expecting value: line 1 column 1 (char 0))."],
        ),
        (
            {"value_type": "number", "default_value": "true"},
            "default_value",
            ["The value must be a number, not true."],
        ),
        (
            {"value_type": "json", "default_value": "[1, 2]"},
            "default_value",
            ["The value must be a json object, not [1, 2]."],
        ),
        (
            {"key": "Chat-Enabled"},
            "key",
            [
                "A key is a lowercase letter, then lowercase letters, digits or underscores (at most 100), "
                "e.g. chat_enabled."
            ],
        ),
        (
            {"key": "minimum_app_version", "value_type": "string", "default_value": "2.1"},
            "default_value",
            ["minimum_app_version holds a full semver version such as 2.1.0, or nothing."],
        ),
        (
            {"key": "minimum_app_version", "value_type": "number", "default_value": "2"},
            "default_value",
            ["minimum_app_version must be a string parameter."],
        ),
    ],
    ids=[
        "boolean yes",
        "number abc",
        "number true",
        "json list",
        "bad key",
        "minimum not semver",
        "minimum not a string",
    ],
)
def test_a_bad_parameter_is_refused_with_the_reason(staff_client, overrides, field, errors):
    response = staff_client.post(ADD, form_data(**overrides))

    assert response.status_code == 200
    assert field_messages(response, field) == errors
    assert list(form_errors(response)) == [field]
    assert ConfigParameter.objects.count() == 0


@pytest.mark.parametrize(
    ("rule", "errors"),
    [
        ({"value": "4"}, {"value": ["Write true or false."]}),
        (
            {"value": "true", "app_versions": ">= 2"},
            {
                "app_versions": [
                    "'>=' is not a version comparison. Write full versions with >=, >, <=, <, = or !=, "
                    "separated by spaces, e.g. >=2.1.0 <3.0.0."
                ]
            },
        ),
        (
            {"value": "true", "rollout_percent": "101"},
            {"__all__": ["The rollout percentage must be between 0 and 100."]},
        ),
        (
            {"value": "true", "platforms": ["ios", "bsd"]},
            {"platforms": ["Select a valid choice. bsd is not one of the available choices."]},
        ),
    ],
    ids=["wrong type", "malformed range", "rollout 101", "unknown platform"],
)
def test_a_bad_rule_is_refused_with_the_reason(staff_client, rule, errors):
    response = staff_client.post(ADD, form_data({"value": "false"}, rule))

    assert response.status_code == 200
    assert rule_errors(response) == [{}, errors]
    assert (ConfigParameter.objects.count(), ConfigRule.objects.count()) == (0, 0)


def test_a_rule_of_the_minimum_version_must_hold_a_version(staff_client):
    response = staff_client.post(
        ADD, form_data({"value": "soon"}, key="minimum_app_version", value_type="string", default_value="")
    )

    assert response.status_code == 200
    assert rule_errors(response) == [
        {"value": ["minimum_app_version holds a full semver version such as 2.1.0, or nothing."]}
    ]
    assert (ConfigParameter.objects.count(), ConfigRule.objects.count()) == (0, 0)


def test_a_rule_is_checked_against_the_type_chosen_on_the_same_form(staff_client, make_parameter):
    """Turning a boolean parameter into a number refuses its rule that still says true."""
    parameter = make_parameter("chat_enabled", "boolean", False, {"value": True})
    rule = parameter.rules.get()

    response = staff_client.post(
        change_url(parameter),
        form_data(
            {"id": str(rule.pk), "parameter": str(parameter.pk), "value": "true"},
            initial_rules=1,
            value_type="number",
            default_value="4",
        ),
    )

    assert response.status_code == 200
    assert rule_errors(response) == [{"value": ["The value must be a number, not true."]}]
    assert draft_parameters() == [("chat_enabled", "boolean", False, "")]
    assert draft_rules() == [("chat_enabled", 1, [], "", None, None, True)]


def test_editing_shows_the_values_as_text(staff_client, make_parameter):
    boolean = make_parameter("chat_enabled", "boolean", True, {"value": False, "signed_in": True})
    json_parameter = make_parameter("theme", "json", {"sizes": [1, 2], "color": "blue"}, {"value": {}})

    boolean_page = staff_client.get(change_url(boolean))
    json_page = staff_client.get(change_url(json_parameter))

    assert boolean_page.status_code == json_page.status_code == 200
    assert boolean_page.context["adminform"].form.initial["default_value"] == "true"
    assert [
        form.initial["value"] for form in boolean_page.context["inline_admin_formsets"][0].formset.forms
    ] == ["false"]
    assert json_page.context["adminform"].form.initial["default_value"] == (
        '{\n  "color": "blue",\n  "sizes": [\n    1,\n    2\n  ]\n}'
    )
    assert [
        form.initial["value"] for form in json_page.context["inline_admin_formsets"][0].formset.forms
    ] == ["{}"]


def test_saving_the_form_as_shown_changes_nothing(staff_client, make_parameter):
    parameter = make_parameter(
        "theme",
        "json",
        {"color": "blue", "sizes": [1, 2]},
        {"value": {"color": "red"}, "platforms": ["ios"], "app_versions": ">=2.0.0", "rollout_percent": 0},
        description="Colours",
    )
    rule = parameter.rules.get()

    response = staff_client.post(
        change_url(parameter),
        form_data(
            {
                "id": str(rule.pk),
                "parameter": str(parameter.pk),
                "platforms": ["ios"],
                "app_versions": ">=2.0.0",
                "rollout_percent": "0",
                "value": '{\n  "color": "red"\n}',
            },
            initial_rules=1,
            key="theme",
            value_type="json",
            default_value='{\n  "color": "blue",\n  "sizes": [\n    1,\n    2\n  ]\n}',
            description="Colours",
        ),
    )

    assert response.status_code == 302
    assert draft_parameters() == [("theme", "json", {"color": "blue", "sizes": [1, 2]}, "Colours")]
    assert draft_rules() == [("theme", 1, ["ios"], ">=2.0.0", None, 0, {"color": "red"})]
    assert list(ConfigRule.objects.values_list("pk", flat=True)) == [rule.pk]


# The changelist says whether apps receive the draft.


def test_the_changelist_says_when_nothing_is_published(staff_client):
    response = staff_client.get(PARAMETERS)

    assert response.status_code == 200
    content = response.content.decode()
    assert NOTHING_PUBLISHED in content
    assert DRAFT_EQUALS in content
    assert DRAFT_DIFFERS not in content


def test_the_changelist_says_when_the_draft_has_unpublished_changes(staff_client, make_parameter, publish):
    make_parameter("chat_enabled", "boolean", False)
    publish()
    ConfigParameter.objects.filter(key="chat_enabled").update(default_value=True)

    response = staff_client.get(PARAMETERS)

    assert response.status_code == 200
    content = response.content.decode()
    assert DRAFT_DIFFERS in content
    assert DRAFT_EQUALS not in content
    assert NOTHING_PUBLISHED not in content
    assert 'Apps receive <a href="/admin/ai_scripts/configversion/' in content


def test_the_changelist_says_when_the_draft_is_published(staff_client, make_parameter, publish):
    make_parameter("chat_enabled", "boolean", False, {"value": True, "platforms": ["ios", "android"]})
    version = publish()

    response = staff_client.get(PARAMETERS)

    assert response.status_code == 200
    content = response.content.decode()
    assert DRAFT_EQUALS in content
    assert DRAFT_DIFFERS not in content
    assert f'Apps receive <a href="{VERSIONS}{version.pk}/change/">version 1</a>' in content
    assert "by staff@example.com." in content


def test_a_draft_that_cannot_be_published_counts_as_changed(staff_client, make_parameter):
    make_parameter("chat_enabled", "boolean", "x")

    response = staff_client.get(PARAMETERS)

    assert response.status_code == 200
    assert DRAFT_DIFFERS in response.content.decode()


# Publish.


def test_publishing_shows_what_changes(staff_client, make_parameter, publish):
    make_parameter("chat_enabled", "boolean", False)
    publish()
    ConfigParameter.objects.filter(key="chat_enabled").update(default_value=True)

    response = staff_client.get(PUBLISH)

    assert response.status_code == 200
    assert response.context["diff"] == (
        "--- published version 1\n"
        "+++ draft\n"
        "@@ -1,7 +1,7 @@\n"
        " {\n"
        '   "parameters": {\n'
        '     "chat_enabled": {\n'
        '-      "default": false,\n'
        '+      "default": true,\n'
        '       "description": "",\n'
        '       "rules": [],\n'
        '       "type": "boolean"'
    )
    assert "it becomes version 2" in response.content.decode()
    assert ConfigVersion.objects.count() == 1


def test_staff_can_publish_the_draft(staff_client, staff, make_parameter, api_client):
    make_parameter("chat_enabled", "boolean", False, {"value": True, "platforms": ["ios"]})
    make_parameter("max_items", "number", 4)

    response = staff_client.post(PUBLISH, {"note": "Chat on iOS"})

    assert response.status_code == 302
    assert response["Location"] == VERSIONS
    assert messages_of(response) == ["Published version 1: apps receive it now."]
    version = ConfigVersion.objects.get()
    assert (version.number, version.note, version.published_by) == (1, "Chat on iOS", staff)
    assert version.document == {
        "parameters": {
            "chat_enabled": {
                "type": "boolean",
                "default": False,
                "description": "",
                "rules": [{"value": True, "platforms": ["ios"]}],
            },
            "max_items": {"type": "number", "default": 4, "description": "", "rules": []},
        }
    }
    assert api_client.get(API, HTTP_X_PLATFORM="ios").json() == {
        "config_version": 1,
        "parameters": {"chat_enabled": True, "max_items": 4},
        "update_required": False,
    }


def test_apps_receive_the_next_publish_at_once(staff_client, make_parameter, publish, api_client):
    make_parameter("max_items", "number", 4)
    publish()
    assert api_client.get(API).json()["parameters"] == {"max_items": 4}
    ConfigParameter.objects.filter(key="max_items").update(default_value=8)

    response = staff_client.post(PUBLISH, {"note": ""})

    assert response.status_code == 302
    assert list(ConfigVersion.objects.values_list("number", flat=True)) == [2, 1]
    assert api_client.get(API).json() == {
        "config_version": 2,
        "parameters": {"max_items": 8},
        "update_required": False,
    }


def test_publishing_an_unchanged_draft_makes_no_version(staff_client, make_parameter, publish):
    make_parameter("chat_enabled", "boolean", False)
    publish(note="first")

    page = staff_client.get(PUBLISH)
    response = staff_client.post(PUBLISH, {"note": "again"})

    assert page.status_code == 200
    assert page.context["diff"] == ""
    assert "The draft equals published version 1: there is nothing to publish." in page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == VERSIONS
    assert messages_of(response) == ["Nothing to publish: the draft equals the published version."]
    assert list(ConfigVersion.objects.values_list("number", "note")) == [(1, "first")]


def test_a_draft_that_cannot_be_published_is_refused(staff_client, make_parameter, api_client):
    make_parameter("chat_enabled", "boolean", "x")
    reason = "parameter 'chat_enabled', default: The value must be a boolean, not \"x\"."

    page = staff_client.get(PUBLISH)
    response = staff_client.post(PUBLISH, {"note": "broken"})

    assert page.status_code == 200
    assert page.context["problem"] == reason
    assert response.status_code == 302
    assert response["Location"] == PARAMETERS
    assert messages_of(response) == [f"Not published: {reason}"]
    assert ConfigVersion.objects.count() == 0
    assert api_client.get(API).json()["config_version"] == 0


# Preview.


@pytest.fixture
def previewed(make_parameter, publish):
    """Published: chat_enabled (on for iOS 2.x, then for signed-in users). The draft adds
    greeting and a theme on top, unpublished."""
    make_parameter(
        "chat_enabled",
        "boolean",
        False,
        {"value": True, "platforms": ["ios"], "app_versions": ">=2.0.0 <3.0.0"},
        {"value": True, "signed_in": True},
    )
    publish()
    make_parameter("greeting", "string", "Hello", {"value": "Hi there", "signed_in": False})
    make_parameter("theme", "json", {"color": "blue"})


def preview(client, **query):
    return client.get(PREVIEW, {"source": "draft", "platform": "", "app_version": "", "user": "", **query})


def test_preview_shows_what_an_app_receives_from_the_draft(staff_client, previewed):
    response = preview(staff_client, platform="iOS", app_version="2.1.0")

    assert response.status_code == 200
    assert response.context["result"]["rows"] == [
        ("chat_enabled", "true", "rule 1"),
        ("greeting", "Hi there", "rule 1"),
        ("theme", '{\n  "color": "blue"\n}', "default"),
    ]


def test_preview_shows_what_a_signed_in_user_receives_from_the_published_version(
    staff_client, previewed, alice
):
    response = preview(staff_client, source="published", platform="android", user="Alice@example.com")

    assert response.status_code == 200
    assert response.context["result"]["rows"] == [("chat_enabled", "true", "rule 2")]
    assert "signed in." in response.content.decode()


def test_preview_of_an_unknown_user_is_a_form_error(staff_client, previewed):
    response = preview(staff_client, user="nobody@example.com")

    assert response.status_code == 200
    assert response.context["form"].errors == {"user": ["No user has this email."]}
    assert response.context["result"] is None


def test_preview_treats_a_malformed_version_and_an_unknown_platform_as_none(staff_client, previewed):
    response = preview(staff_client, platform="bsd", app_version="2.1")

    assert response.status_code == 200
    assert response.context["result"]["rows"] == [
        ("chat_enabled", "false", "default"),
        ("greeting", "Hi there", "rule 1"),
        ("theme", '{\n  "color": "blue"\n}', "default"),
    ]
    content = response.content.decode()
    assert "Platform: none or unknown;" in content
    assert "version: none or malformed;" in content


def test_preview_of_a_draft_that_cannot_be_published_gives_the_reason(staff_client, make_parameter):
    make_parameter("chat_enabled", "boolean", "x")

    response = preview(staff_client)

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "The draft cannot be published as it is: "
        "parameter 'chat_enabled', default: The value must be a boolean, not \"x\"."
    ]
    assert response.context["result"] is None


def test_preview_writes_nothing(staff_client, previewed, alice):
    with CaptureQueriesContext(connection) as queries:
        response = preview(
            staff_client, source="draft", platform="ios", app_version="2.0.0", user=alice.email
        )

    assert response.status_code == 200
    assert [query["sql"] for query in queries if not query["sql"].startswith("SELECT")] == []
    assert (ConfigVersion.objects.count(), ConfigParameter.objects.count(), ConfigRule.objects.count()) == (
        1,
        3,
        3,
    )


# The published versions and rollback.


@pytest.fixture
def two_versions(make_parameter, publish):
    """Version 1: max_items 4 with a rule for iOS; version 2: max_items 8, no rules."""
    make_parameter("max_items", "number", 4, {"value": 6, "platforms": ["ios"]})
    first = publish(note="four")
    ConfigRule.objects.all().delete()
    ConfigParameter.objects.filter(key="max_items").update(default_value=8)
    second = publish(note="eight")
    return first, second


def test_the_versions_are_listed_newest_first_with_a_rollback_link(staff_client, two_versions):
    """Every earlier version links to its rollback; the newest says that apps receive it."""
    first, second = two_versions

    response = staff_client.get(VERSIONS)

    assert response.status_code == 200
    assert [version.number for version in response.context["cl"].result_list] == [2, 1]
    content = response.content.decode()
    assert rollback_url(first) in content
    assert rollback_url(second) not in content
    assert content.count("Apps receive this version") == 1
    assert content.index("Apps receive this version") < content.index(rollback_url(first))


def test_a_version_page_shows_its_document(staff_client, two_versions):
    first, _ = two_versions

    response = staff_client.get(f"{VERSIONS}{first.pk}/change/")

    assert response.status_code == 200
    assert "&quot;default&quot;: 4,\n" in response.content.decode()
    assert "&quot;platforms&quot;: [\n            &quot;ios&quot;\n          ]" in response.content.decode()


def test_rollback_asks_first(staff_client, two_versions):
    first, _ = two_versions

    response = staff_client.get(rollback_url(first))

    assert response.status_code == 200
    assert response.templates[0].name == "admin/ai_scripts/restore_confirmation.html"
    content = response.content.decode()
    assert "Roll back to version 1?" in content
    assert "Version 1, published " in content
    assert " by staff@example.com (four):" in content
    assert "&quot;default&quot;: 4," in content
    assert 'value="Yes, publish this version again"' in content
    assert ConfigVersion.objects.count() == 2


def test_staff_can_roll_back_to_an_earlier_version(staff_client, staff, two_versions, api_client):
    first, _ = two_versions

    response = staff_client.post(rollback_url(first))

    assert response.status_code == 302
    assert response["Location"] == VERSIONS
    assert messages_of(response) == ["Published version 3, the configuration of version 1."]
    newest = ConfigVersion.objects.order_by("-number").first()
    assert (newest.number, newest.note, newest.published_by) == (3, "Rollback to version 1", staff)
    assert newest.document == first.document
    assert draft_parameters() == [("max_items", "number", 4, "")]
    assert draft_rules() == [("max_items", 1, ["ios"], "", None, None, 6)]
    assert api_client.get(API, HTTP_X_PLATFORM="ios").json() == {
        "config_version": 3,
        "parameters": {"max_items": 6},
        "update_required": False,
    }
    assert api_client.get(API).json()["parameters"] == {"max_items": 4}


def test_rolling_back_to_what_apps_receive_makes_no_version(staff_client, two_versions):
    _, second = two_versions

    response = staff_client.post(rollback_url(second))

    assert response.status_code == 302
    assert messages_of(response) == ["Apps receive version 2's configuration already."]
    assert list(ConfigVersion.objects.values_list("number", flat=True)) == [2, 1]


def test_versions_cannot_be_added_changed_or_deleted(staff_client, two_versions):
    first, _ = two_versions
    page = f"{VERSIONS}{first.pk}/change/"

    added = staff_client.get(f"{VERSIONS}add/")
    changed = staff_client.post(page, {"number": "7", "note": "edited"})
    deleted = staff_client.post(f"{VERSIONS}{first.pk}/delete/", {"post": "yes"})

    assert (added.status_code, changed.status_code, deleted.status_code) == (403, 403, 403)
    first.refresh_from_db()
    assert (first.number, first.note) == (1, "four")
    assert list(ConfigVersion.objects.values_list("number", flat=True)) == [2, 1]


# Who may do what.


@pytest.fixture
def viewer_client(client, db):
    """Staff who may only view the configuration's parameters."""
    viewer = User.objects.create_user(email="viewer@example.com", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_configparameter"))
    client.force_login(viewer)
    return client


def test_staff_who_may_only_view_see_the_draft_and_the_preview(viewer_client, previewed):
    changelist = viewer_client.get(PARAMETERS)
    previewing = preview(viewer_client, platform="ios", app_version="2.0.0")

    assert changelist.status_code == 200
    assert [parameter.key for parameter in changelist.context["cl"].result_list] == [
        "chat_enabled",
        "greeting",
        "theme",
    ]
    assert previewing.status_code == 200
    assert previewing.context["result"]["rows"][0] == ("chat_enabled", "true", "rule 1")


def test_staff_who_may_only_view_cannot_publish(viewer_client, previewed):
    page = viewer_client.get(PUBLISH)
    response = viewer_client.post(PUBLISH, {"note": "sneaky"})

    assert (page.status_code, response.status_code) == (403, 403)
    assert list(ConfigVersion.objects.values_list("number", flat=True)) == [1]


def test_staff_who_may_only_view_cannot_roll_back(viewer_client, two_versions):
    first, _ = two_versions

    page = viewer_client.get(rollback_url(first))
    response = viewer_client.post(rollback_url(first))

    assert (page.status_code, response.status_code) == (403, 403)
    assert list(ConfigVersion.objects.values_list("number", flat=True)) == [2, 1]
    assert draft_parameters() == [("max_items", "number", 8, "")]


def test_users_who_are_not_staff_are_sent_to_the_login_page(client, alice, two_versions):
    first, _ = two_versions
    client.force_login(alice)

    for url in [PARAMETERS, PREVIEW, PUBLISH, VERSIONS, rollback_url(first)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"/admin/login/?next={url}", url
    for url in [PUBLISH, rollback_url(first)]:
        response = client.post(url, {"note": "sneaky"})
        assert response.status_code == 302, url
        assert response["Location"] == f"/admin/login/?next={url}", url
    assert list(ConfigVersion.objects.values_list("number", flat=True)) == [2, 1]
    assert draft_parameters() == [("max_items", "number", 8, "")]


# The confirmation template is shared with the AI scripts' restore.


def test_the_script_restore_still_asks_through_the_shared_template(staff_client, make_script):
    """The breadcrumbs name the scripts as the rest of the admin does: "AI scripts"."""
    script = make_script("greeting", version="1.0")
    script.version = "2.0"
    services.script_save(script=script)
    first = AIScriptVersion.objects.get(version="1.0")

    response = staff_client.get(f"{SCRIPTS}{script.pk}/restore/{first.pk}/")

    assert response.status_code == 200
    assert response.templates[0].name == "admin/ai_scripts/restore_confirmation.html"
    content = response.content.decode()
    assert 'value="Yes, restore this version"' in content
    breadcrumbs = content[content.index('<div class="breadcrumbs">') :]
    breadcrumbs = breadcrumbs[: breadcrumbs.index("</div>")]
    assert f'<a href="{script_change_url(script)}">greeting</a>' in breadcrumbs
    assert "&rsaquo; Restore" in breadcrumbs
    script.refresh_from_db()
    assert script.version == "2.0"
    assert f'<a href="{SCRIPTS}">AI scripts</a>' in breadcrumbs


def test_the_pages_hold_no_style_attribute_the_csp_would_refuse(staff_client, two_versions):
    """The admin's Content-Security-Policy allows no inline styles: the pages style themselves
    from ai_scripts/admin.css (a browser reported each style attribute as a violation)."""
    first, _ = two_versions
    parameter = ConfigParameter.objects.get(key="max_items")
    ConfigRule.objects.create(parameter=parameter, position=1, platforms=["ios"], value=6)
    pages = [
        PARAMETERS,
        f"{PARAMETERS}add/",
        f"{PARAMETERS}{parameter.pk}/change/",
        f"{PREVIEW}?source=draft&platform=ios&app_version=2.0.0",
        PUBLISH,
        VERSIONS,
        f"{VERSIONS}{first.pk}/change/",
        rollback_url(first),
    ]

    for page in pages:
        response = staff_client.get(page)

        assert response.status_code == 200
        assert " style=" not in response.content.decode(), page
        assert "ai_scripts/admin.css" in response.content.decode(), page
