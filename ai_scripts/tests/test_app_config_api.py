"""GET /api/config/app-config: the newest published configuration, resolved for the app that
asks (X-Platform, X-App-Version, an optional bearer token)."""

import uuid

import pytest

from accounts.models import User
from accounts.services import users_deactivate
from accounts.tests import tokens as forge
from ai_scripts import config_services
from ai_scripts.app_config import in_rollout
from persona import events
from testing.helpers import PASSWORD

URL = "/api/config/app-config"
VARIES_ON = {"authorization", "x-platform", "x-app-version"}

# Two users on either side of a 50 % rollout of `new_home`. Pinned: a user's bucket must not move
# between processes or releases, or apps would flip between values.
IN_HALF_OF_NEW_HOME = uuid.UUID("00000000-0000-0000-0000-000000000003")
OUT_OF_HALF_OF_NEW_HOME = uuid.UUID("00000000-0000-0000-0000-000000000001")


def parameter(type, default, *rules):
    return {"type": type, "default": default, "rules": list(rules)}


def get(client, *, platform=None, version=None, **headers):
    if platform is not None:
        headers["HTTP_X_PLATFORM"] = platform
    if version is not None:
        headers["HTTP_X_APP_VERSION"] = version
    return client.get(URL, **headers)


def varies_on(response) -> set:
    return {header.strip().lower() for header in response["Vary"].split(",")}


def answer(version=1, update_required=False, **parameters):
    return {"config_version": version, "parameters": parameters, "update_required": update_required}


@pytest.fixture
def publish(db):
    """Publishes the parameters as the next version, as an import would."""

    def publish(**parameters):
        return config_services.config_import(document={"parameters": parameters})

    return publish


@pytest.fixture
def targeted(publish):
    """One flag per condition, each off unless its single condition holds."""
    publish(
        on_ios=parameter("boolean", False, {"value": True, "platforms": ["ios"]}),
        on_v1=parameter("boolean", False, {"value": True, "app_versions": ">=1.0.0"}),
        signed_in=parameter("boolean", False, {"value": True, "signed_in": True}),
        signed_out=parameter("boolean", False, {"value": True, "signed_in": False}),
    )


@pytest.fixture
def half_rollout(publish):
    publish(new_home=parameter("boolean", False, {"value": True, "rollout_percent": 50}))


@pytest.fixture
def client_of(db, client_for):
    """A signed-in API client for a new user with this id."""

    def make(user_id):
        user = User.objects.create_user(email=f"{user_id}@example.com", password=PASSWORD, id=user_id)
        return client_for(user)

    return make


@pytest.fixture
def broadcasts(monkeypatch):
    """What goes out on the channel layer (group, message) when transactions commit."""
    sent = []
    monkeypatch.setattr(events, "_group_send", lambda group, message: sent.append((group, message)))
    return sent


def sent_events(broadcasts):
    return [(group, message["event"]["type"], message["event"]["data"]) for group, message in broadcasts]


# The answer


def test_it_answers_an_empty_configuration_before_the_first_publish(api_client, db):
    response = get(api_client, platform="ios", version="1.0.0")

    assert response.status_code == 200
    assert response.json() == {"config_version": 0, "parameters": {}, "update_required": False}


def test_it_gives_the_defaults_when_no_rule_matches(api_client, publish):
    publish(
        chat_enabled=parameter("boolean", False, {"value": True, "platforms": ["ios"]}),
        greeting=parameter("string", "Hello", {"value": "Welcome back", "signed_in": True}),
        limits=parameter("json", {"daily": 10}, {"value": {"daily": 50}, "app_versions": ">=9.0.0"}),
        max_tokens=parameter("number", 512, {"value": 1024, "rollout_percent": 0}),
    )

    response = get(api_client, platform="android", version="2.0.0")

    assert response.status_code == 200
    assert response.json() == answer(
        chat_enabled=False, greeting="Hello", limits={"daily": 10}, max_tokens=512
    )


@pytest.mark.parametrize("platform", ["ios", "iOS", "IOS"])
def test_a_platform_rule_matches_the_header_in_any_case(api_client, targeted, platform):
    response = get(api_client, platform=platform)

    assert response.status_code == 200
    assert response.json() == answer(on_ios=True, on_v1=False, signed_in=False, signed_out=True)


def test_a_platform_rule_does_not_match_another_platform(api_client, targeted):
    response = get(api_client, platform="android")

    assert response.status_code == 200
    assert response.json() == answer(on_ios=False, on_v1=False, signed_in=False, signed_out=True)


@pytest.mark.parametrize(
    ("version", "matches"),
    [("2.10.0", True), ("2.9.0", False), ("10.0.0", True), ("2.10.0-beta.1", False), ("2.10.1", True)],
)
def test_a_version_range_compares_by_semver_not_as_text(api_client, publish, version, matches):
    publish(new_chat=parameter("boolean", False, {"value": True, "app_versions": ">=2.10.0"}))

    response = get(api_client, version=version)

    assert response.status_code == 200
    assert response.json() == answer(new_chat=matches)


@pytest.mark.parametrize(
    ("version", "channel"), [("3.0.0-beta.1", "beta"), ("3.0.0", "stable"), ("2.9.9", "old")]
)
def test_a_prerelease_is_below_its_release(api_client, publish, version, channel):
    publish(
        channel=parameter(
            "string",
            "old",
            {"value": "stable", "app_versions": ">=3.0.0"},
            {"value": "beta", "app_versions": ">=3.0.0-alpha <3.0.0"},
        )
    )

    response = get(api_client, version=version)

    assert response.status_code == 200
    assert response.json() == answer(channel=channel)


def test_build_metadata_is_ignored(api_client, publish):
    publish(
        minimum_app_version=parameter("string", "2.1.0"),
        exact=parameter("boolean", False, {"value": True, "app_versions": "=2.1.0"}),
    )

    response = get(api_client, version="2.1.0+45")

    assert response.status_code == 200
    assert response.json() == answer(exact=True, minimum_app_version="2.1.0", update_required=False)


def test_a_signed_in_rule_matches_a_valid_token_only(api_client, alice_client, publish):
    publish(
        greeting=parameter(
            "string",
            "Hello",
            {"value": "Welcome back", "signed_in": True},
            {"value": "Sign in?", "signed_in": False},
        )
    )

    signed_in = get(alice_client)
    signed_out = get(api_client)

    assert (signed_in.status_code, signed_out.status_code) == (200, 200)
    assert signed_in.json() == answer(greeting="Welcome back")
    assert signed_out.json() == answer(greeting="Sign in?")


@pytest.mark.parametrize(("percent", "value"), [(0, False), (100, True)])
def test_a_0_or_100_percent_rollout_takes_no_user_or_every_user(
    alice_client, bob_client, publish, percent, value
):
    publish(new_home=parameter("boolean", False, {"value": True, "rollout_percent": percent}))

    responses = [get(alice_client), get(bob_client)]

    assert [response.status_code for response in responses] == [200, 200]
    assert [response.json() for response in responses] == [answer(new_home=value)] * 2


@pytest.mark.parametrize(("percent", "value"), [(0, False), (50, False), (99, False), (100, True)])
def test_apps_without_a_token_are_only_in_a_100_percent_rollout(api_client, publish, percent, value):
    publish(new_home=parameter("boolean", False, {"value": True, "rollout_percent": percent}))

    response = get(api_client)

    assert response.status_code == 200
    assert response.json() == answer(new_home=value)


def test_users_on_either_side_of_a_rollout_get_its_two_values(client_of, half_rollout):
    inside = get(client_of(IN_HALF_OF_NEW_HOME))
    outside = get(client_of(OUT_OF_HALF_OF_NEW_HOME))

    assert (inside.status_code, outside.status_code) == (200, 200)
    assert inside.json() == answer(new_home=True)
    assert outside.json() == answer(new_home=False)


@pytest.mark.parametrize(
    ("signed_in", "platform", "version", "value"),
    [
        (True, "ios", "2.0.0", True),
        (True, "android", "2.0.0", False),
        (True, "ios", "1.9.0", False),
        (False, "ios", "2.0.0", False),
    ],
)
def test_every_condition_of_a_rule_must_hold(
    api_client, alice_client, publish, signed_in, platform, version, value
):
    publish(
        new_chat=parameter(
            "boolean",
            False,
            {"value": True, "platforms": ["ios"], "app_versions": ">=2.0.0", "signed_in": True},
        )
    )

    response = get(alice_client if signed_in else api_client, platform=platform, version=version)

    assert response.status_code == 200
    assert response.json() == answer(new_chat=value)


@pytest.mark.parametrize(
    ("platform", "version", "parameters"),
    [
        ("ios", "1.0.0", {"banner": "first", "theme": "light"}),
        ("android", "1.0.0", {"banner": "second", "theme": "dark"}),
        ("android", "0.9.0", {"banner": "none", "theme": "dark"}),
    ],
)
def test_rules_are_tried_in_order_and_the_first_match_wins_for_each_parameter(
    api_client, publish, platform, version, parameters
):
    publish(
        banner=parameter(
            "string",
            "none",
            {"value": "first", "platforms": ["ios"]},
            {"value": "second", "app_versions": ">=1.0.0"},
        ),
        theme=parameter(
            "string",
            "plain",
            {"value": "dark", "platforms": ["android"]},
            {"value": "light", "platforms": ["ios"]},
        ),
    )

    response = get(api_client, platform=platform, version=version)

    assert response.status_code == 200
    assert response.json() == answer(**parameters)


# The minimum version


@pytest.mark.parametrize(
    ("version", "update_required"),
    [
        ("2.0.9", True),
        ("1.99.99", True),
        ("2.1.0-rc.1", True),
        ("2.1.0", False),
        ("2.1.1", False),
        ("10.0.0", False),
    ],
)
def test_apps_below_the_minimum_version_must_update(api_client, publish, version, update_required):
    publish(minimum_app_version=parameter("string", "2.1.0"))

    response = get(api_client, platform="ios", version=version)

    assert response.status_code == 200
    assert response.json() == answer(minimum_app_version="2.1.0", update_required=update_required)


@pytest.mark.parametrize("version", [None, "", "2.1", "latest", "v1.0.0", "1.0.0.0"])
def test_an_app_without_a_readable_version_is_not_told_to_update(api_client, publish, version):
    publish(minimum_app_version=parameter("string", "2.1.0"))

    response = get(api_client, platform="ios", version=version)

    assert response.status_code == 200
    assert response.json() == answer(minimum_app_version="2.1.0", update_required=False)


def test_an_empty_minimum_version_requires_no_update(api_client, publish):
    publish(minimum_app_version=parameter("string", ""))

    response = get(api_client, version="0.0.1")

    assert response.status_code == 200
    assert response.json() == answer(minimum_app_version="", update_required=False)


@pytest.mark.parametrize(
    ("platform", "minimum", "update_required"), [("android", "3.0.0", True), ("ios", "2.0.0", False)]
)
def test_a_rule_sets_a_minimum_version_for_one_platform(
    api_client, publish, platform, minimum, update_required
):
    publish(minimum_app_version=parameter("string", "2.0.0", {"value": "3.0.0", "platforms": ["android"]}))

    response = get(api_client, platform=platform, version="2.5.0")

    assert response.status_code == 200
    assert response.json() == answer(minimum_app_version=minimum, update_required=update_required)


# Bad input is answered, never refused


@pytest.mark.parametrize(
    ("headers", "parameters"),
    [
        ({"HTTP_X_PLATFORM": "blackberry"}, {"on_ios": False, "on_v1": True}),
        ({"HTTP_X_PLATFORM": "i" * 100_000}, {"on_ios": False, "on_v1": True}),
        ({"HTTP_X_PLATFORM": ""}, {"on_ios": False, "on_v1": True}),
        ({"HTTP_X_APP_VERSION": "not.a.version"}, {"on_ios": True, "on_v1": False}),
        ({"HTTP_X_APP_VERSION": "2"}, {"on_ios": True, "on_v1": False}),
        # A valid semver, but longer than any real version: not parsed at all.
        ({"HTTP_X_APP_VERSION": "1.0.0-" + "a" * 100_000}, {"on_ios": True, "on_v1": False}),
        ({"HTTP_X_APP_VERSION": "9" * 100_000}, {"on_ios": True, "on_v1": False}),
    ],
)
def test_unreadable_headers_match_no_rule_that_needs_them(api_client, targeted, headers, parameters):
    """An unknown platform or an unreadable version counts as none: rules needing it do not match."""
    request_headers = {"HTTP_X_PLATFORM": "ios", "HTTP_X_APP_VERSION": "1.0.0", **headers}

    response = api_client.get(URL, **request_headers)

    assert response.status_code == 200
    assert response.json() == answer(**parameters, signed_in=False, signed_out=True)


SIGNED_OUT = answer(on_ios=True, on_v1=True, signed_in=False, signed_out=True)


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-token",
        "Bearer " + "x" * 10_000,
        "Bearer",
        "Bearer a b",
        "Basic YWxpY2U6c2VjcmV0",
        "garbage",
    ],
)
def test_an_unusable_authorization_header_is_answered_as_signed_out(api_client, targeted, authorization):
    """The token only refines the answer: a bad one is a signed-out app, never a 401."""
    response = get(api_client, platform="ios", version="1.0.0", HTTP_AUTHORIZATION=authorization)

    assert response.status_code == 200
    assert response.json() == SIGNED_OUT


def test_an_expired_token_is_answered_as_signed_out(api_client, alice, tokens_for, targeted):
    expired = forge.expired_access(tokens_for(alice)["access"])

    response = get(api_client, platform="ios", version="1.0.0", HTTP_AUTHORIZATION=f"Bearer {expired}")

    assert response.status_code == 200
    assert response.json() == SIGNED_OUT


@pytest.mark.parametrize(
    "forged",
    [forge.unsigned, lambda token: forge.signed_with(token, "not-the-server-key-but-long-enough-for-hs256")],
)
def test_a_forged_token_is_answered_as_signed_out(api_client, alice, tokens_for, targeted, forged):
    token = forged(tokens_for(alice)["access"])

    response = get(api_client, platform="ios", version="1.0.0", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert response.json() == SIGNED_OUT


def test_a_token_logged_out_is_answered_as_signed_out(api_client, alice, tokens_for, targeted):
    pair = tokens_for(alice)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert get(api_client, platform="ios", version="1.0.0").json()["parameters"]["signed_in"] is True
    assert api_client.post("/api/auth/logout", {"refresh": pair["refresh"]}, format="json").status_code == 205

    response = get(api_client, platform="ios", version="1.0.0")

    assert response.status_code == 200
    assert response.json() == SIGNED_OUT


def test_a_deactivated_users_token_is_answered_as_signed_out(alice, alice_client, targeted):
    users_deactivate(users=User.objects.filter(pk=alice.pk))

    response = get(alice_client, platform="ios", version="1.0.0")

    assert response.status_code == 200
    assert response.json() == SIGNED_OUT


# ETag and caching headers


def test_it_sends_an_etag_and_asks_apps_to_revalidate(api_client, targeted):
    response = get(api_client, platform="ios")

    assert response.status_code == 200
    assert response["ETag"].startswith('"')
    assert response["ETag"].endswith('"')
    assert response["Cache-Control"] == "private, no-cache"
    assert varies_on(response) >= VARIES_ON


def test_it_answers_304_without_a_body_while_the_answer_is_the_same(api_client, targeted):
    etag = get(api_client, platform="ios", version="1.0.0")["ETag"]

    response = get(api_client, platform="ios", version="1.0.0", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "private, no-cache"
    assert varies_on(response) >= VARIES_ON


def test_another_platform_gets_another_etag_and_a_200_for_the_first_ones(api_client, targeted):
    ios = get(api_client, platform="ios")

    android = get(api_client, platform="android", HTTP_IF_NONE_MATCH=ios["ETag"])

    assert android.status_code == 200
    assert android["ETag"] != ios["ETag"]
    assert android.json() == answer(on_ios=False, on_v1=False, signed_in=False, signed_out=True)


def test_a_user_in_another_rollout_variant_gets_another_etag(client_of, half_rollout):
    """A shared cache (Vary on Authorization aside) must never hand one variant to the other."""
    inside = get(client_of(IN_HALF_OF_NEW_HOME))

    outside = get(client_of(OUT_OF_HALF_OF_NEW_HOME), HTTP_IF_NONE_MATCH=inside["ETag"])

    assert outside.status_code == 200
    assert outside["ETag"] != inside["ETag"]
    assert outside.json() == answer(new_home=False)


def test_signing_in_changes_the_etag_when_it_changes_the_answer(api_client, alice_client, targeted):
    signed_out = get(api_client, platform="ios")

    signed_in = get(alice_client, platform="ios", HTTP_IF_NONE_MATCH=signed_out["ETag"])

    assert signed_in.status_code == 200
    assert signed_in["ETag"] != signed_out["ETag"]
    assert signed_in.json() == answer(on_ios=True, on_v1=False, signed_in=True, signed_out=False)


def test_a_new_publish_makes_the_old_etag_a_200(api_client, publish):
    publish(greeting=parameter("string", "Hello"))
    etag = get(api_client)["ETag"]
    publish(greeting=parameter("string", "Hi"))

    response = get(api_client, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 200
    assert response["ETag"] != etag
    assert response.json() == answer(version=2, greeting="Hi")


# Freshness


def test_a_publish_is_seen_by_the_very_next_request(api_client, publish):
    publish(greeting=parameter("string", "Hello"))
    assert get(api_client).json() == answer(greeting="Hello")

    publish(greeting=parameter("string", "Hi"), extra=parameter("number", 1))
    response = get(api_client)

    assert response.status_code == 200
    assert response.json() == answer(version=2, extra=1, greeting="Hi")


def test_a_rollback_is_seen_by_the_very_next_request(api_client, publish):
    first = publish(greeting=parameter("string", "Hello"))
    publish(greeting=parameter("string", "Hi"))
    assert get(api_client).json() == answer(version=2, greeting="Hi")

    config_services.config_rollback(version=first)
    response = get(api_client)

    assert response.status_code == 200
    assert response.json() == answer(version=3, greeting="Hello")


# Cost


def test_an_anonymous_request_costs_one_query_once_the_version_is_built(
    api_client, targeted, django_assert_max_num_queries, django_assert_num_queries
):
    """The newest version's number; its document is read and built once per process."""
    with django_assert_max_num_queries(2):
        assert get(api_client, platform="ios").status_code == 200

    with django_assert_num_queries(1):
        response = get(api_client, platform="android")

    assert response.status_code == 200
    assert response.json() == answer(on_ios=False, on_v1=False, signed_in=False, signed_out=True)


def test_a_signed_in_request_costs_the_token_check_and_the_version(
    api_client, alice_client, targeted, django_assert_num_queries
):
    get(api_client)

    with django_assert_num_queries(2):
        response = get(alice_client, platform="ios")

    assert response.status_code == 200
    assert response.json() == answer(on_ios=True, on_v1=False, signed_in=True, signed_out=False)


def test_a_304_costs_no_more_than_a_200(alice_client, targeted, django_assert_num_queries):
    etag = get(alice_client)["ETag"]

    with django_assert_num_queries(2):
        response = get(alice_client, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304


# Methods


def test_head_answers_like_get_without_a_body(api_client, targeted):
    got = get(api_client, platform="ios")

    response = api_client.head(URL, HTTP_X_PLATFORM="ios")

    assert response.status_code == 200
    assert response.content == b""
    assert response["ETag"] == got["ETag"]
    assert response["Content-Length"] == got["Content-Length"] == str(len(got.content))
    assert varies_on(response) >= VARIES_ON


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_it_refuses_to_be_written_to(api_client, alice_client, targeted, method):
    for client in (api_client, alice_client):
        response = getattr(client, method)(URL, {"parameters": {}}, format="json")

        assert response.status_code == 405
        assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.'}


# The rollout


def test_a_user_gets_the_same_rollout_value_on_every_request(alice_client, half_rollout):
    """Alice is in or out of the 50 % rollout, whichever it is, on every one of 1,000 requests."""
    responses = [get(alice_client) for _ in range(1000)]

    assert {response.status_code for response in responses} == {200}
    assert len({response.content for response in responses}) == 1
    assert len({response["ETag"] for response in responses}) == 1


@pytest.fixture
def user_ids():
    """10,000 user ids that look random, the same on every run."""
    return [
        str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://example.com/users/{number}")) for number in range(10_000)
    ]


def users_in(user_ids, *, key="new_home", percent):
    return {user_id for user_id in user_ids if in_rollout(key=key, user_id=user_id, percent=percent)}


@pytest.mark.parametrize("percent", [1, 25, 50, 70, 99])
def test_a_rollout_takes_its_share_of_users_within_2_points(user_ids, percent):
    share = 100 * len(users_in(user_ids, percent=percent)) / len(user_ids)

    assert percent - 2 <= share <= percent + 2


def test_a_0_and_a_100_percent_rollout_take_none_and_all(user_ids):
    assert users_in(user_ids, percent=0) == set()
    assert users_in(user_ids, percent=100) == set(user_ids)


def test_raising_the_percentage_only_adds_users(user_ids):
    at_10, at_30 = users_in(user_ids, percent=10), users_in(user_ids, percent=30)

    assert at_10 < at_30
    assert 1800 <= len(at_30 - at_10) <= 2200


def test_two_parameters_roll_out_to_independent_users(user_ids):
    home = users_in(user_ids, key="new_home", percent=50)
    chat = users_in(user_ids, key="new_chat", percent=50)

    assert home != chat
    # Independent halves overlap on about a quarter of the users, not on all or none.
    assert 2300 <= len(home & chat) <= 2700


@pytest.mark.parametrize(("percent", "inside"), [(0, False), (1, False), (99, False), (100, True)])
def test_apps_without_a_user_are_in_a_100_percent_rollout_only(percent, inside):
    assert in_rollout(key="new_home", user_id=None, percent=percent) is inside


# Events


def test_a_publish_broadcasts_the_new_version_to_everyone(
    publish, broadcasts, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        publish(greeting=parameter("string", "Hello"))
    with django_capture_on_commit_callbacks(execute=True):
        publish(greeting=parameter("string", "Hi"))

    assert sent_events(broadcasts) == [
        (events.EVERYONE, "app_config.changed", {"config_version": 1}),
        (events.EVERYONE, "app_config.changed", {"config_version": 2}),
    ]


def test_a_publish_that_changes_nothing_broadcasts_nothing(
    publish, broadcasts, django_capture_on_commit_callbacks
):
    publish(greeting=parameter("string", "Hello"))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        version = publish(greeting=parameter("string", "Hello"))

    assert version is None
    assert callbacks == []
    assert broadcasts == []


def test_a_rollback_broadcasts_its_new_version(publish, broadcasts, django_capture_on_commit_callbacks):
    first = publish(greeting=parameter("string", "Hello"))
    publish(greeting=parameter("string", "Hi"))

    with django_capture_on_commit_callbacks(execute=True):
        config_services.config_rollback(version=first)

    assert sent_events(broadcasts) == [(events.EVERYONE, "app_config.changed", {"config_version": 3})]


def test_a_dry_run_broadcasts_nothing(db, broadcasts, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        config_services.config_import(
            document={"parameters": {"greeting": parameter("string", "Hi")}}, dry_run=True
        )

    assert callbacks == []
    assert broadcasts == []
