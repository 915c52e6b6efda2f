import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from ai_scripts import services
from ai_scripts.models import AIScript
from ai_scripts.serializers import AIScriptSerializer

URL = "/api/ai/scripts"


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def test_it_lists_the_active_scripts_by_name(alice_client, make_script):
    zeta = make_script("zeta", version="2.0", script_content={"system": "z", "temperature": 0.2})
    alpha = make_script("alpha", version="1.0")
    make_script("hidden", is_active=False)

    response = alice_client.get(URL)

    assert response.status_code == 200
    assert response.json() == [
        {
            "script_name": "alpha",
            "version": "1.0",
            "script_content": {"system": "You are alpha."},
            "updated_at": iso(alpha.updated_at),
        },
        {
            "script_name": "zeta",
            "version": "2.0",
            "script_content": {"system": "z", "temperature": 0.2},
            "updated_at": iso(zeta.updated_at),
        },
    ]
    assert re.fullmatch(r'"[0-9a-f]{64}"', response["ETag"])
    assert response["Cache-Control"] == "private, no-cache"


def test_it_serves_an_empty_list(alice_client, db):
    response = alice_client.get(URL)

    assert response.status_code == 200
    assert response.json() == []


def test_it_needs_a_token(api_client, make_script):
    response = api_client.get(URL)

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_it_answers_304_without_a_body_when_the_etag_still_matches(alice_client, make_script):
    make_script("greeting")
    etag = alice_client.get(URL)["ETag"]

    response = alice_client.get(URL, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag


def test_it_accepts_a_weak_or_listed_etag(alice_client, make_script):
    make_script("greeting")
    etag = alice_client.get(URL)["ETag"]

    assert alice_client.get(URL, HTTP_IF_NONE_MATCH=f"W/{etag}").status_code == 304
    assert alice_client.get(URL, HTTP_IF_NONE_MATCH=f'"other", {etag}').status_code == 304
    assert alice_client.get(URL, HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_the_etag_is_the_same_for_every_user(alice_client, bob_client, make_script):
    make_script("greeting")

    assert alice_client.get(URL)["ETag"] == bob_client.get(URL)["ETag"]


def test_a_200_costs_three_queries_with_authentication(
    alice_client, make_script, django_assert_max_num_queries
):
    make_script("one")
    make_script("two")

    with django_assert_max_num_queries(3):
        response = alice_client.get(URL)

    assert response.status_code == 200
    assert len(response.json()) == 2


def test_the_list_is_built_once_per_etag_in_each_process(
    alice_client, make_script, django_assert_max_num_queries, monkeypatch
):
    make_script("greeting")
    first = alice_client.get(URL)

    def refuse(*args, **kwargs):
        raise AssertionError("the list for this ETag was built already")

    monkeypatch.setattr(AIScriptSerializer, "to_representation", refuse)
    with django_assert_max_num_queries(2):
        again = alice_client.get(URL)

    assert again.status_code == 200
    assert again["ETag"] == first["ETag"]
    assert again.json() == first.json()


def test_a_304_costs_the_authentication_and_etag_queries_and_no_serializing(
    alice_client, make_script, django_assert_max_num_queries, monkeypatch
):
    make_script("greeting")
    etag = alice_client.get(URL)["ETag"]

    def refuse(*args, **kwargs):
        raise AssertionError("a 304 must not serialize the scripts")

    monkeypatch.setattr(AIScriptSerializer, "to_representation", refuse)
    with django_assert_max_num_queries(2):
        response = alice_client.get(URL, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304


def test_the_etag_needs_no_cache_and_survives_it_being_cleared(alice_client, make_script):
    make_script("greeting")
    etag = alice_client.get(URL)["ETag"]
    cache.clear()

    response = alice_client.get(URL, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response["ETag"] == etag


@pytest.mark.parametrize("path", [URL, f"{URL}/greeting"])
def test_an_edit_written_by_another_process_is_served_at_once(alice_client, make_script, path):
    """Another process (an admin edit, import_ai_scripts) writes the database and nothing else."""
    make_script("greeting")
    etag = alice_client.get(path)["ETag"]

    AIScript.objects.filter(script_name="greeting").update(
        script_content={"system": "Edited elsewhere."}, updated_at=timezone.now()
    )
    response = alice_client.get(path, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 200
    assert response["ETag"] != etag
    assert "Edited elsewhere." in response.content.decode()


def test_editing_another_script_with_an_earlier_clock_still_changes_the_list_etag(alice_client, make_script):
    """App instances' clocks differ a little: the list's ETag must not hang on the latest time."""
    make_script("first")
    second = make_script("second")
    etag = alice_client.get(URL)["ETag"]

    AIScript.objects.filter(pk=second.pk).update(
        script_content={"system": "Edited on a slow clock."},
        updated_at=second.updated_at - timedelta(seconds=5),
    )

    assert alice_client.get(URL, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_scripts_are_served_from_the_database_when_redis_is_down(alice_client, make_script, settings):
    make_script("greeting")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }

    listed = alice_client.get(URL)
    one = alice_client.get(f"{URL}/greeting")

    assert (listed.status_code, one.status_code) == (200, 200)
    assert listed.json()[0]["script_name"] == one.json()["script_name"] == "greeting"


def test_a_change_changes_the_etag_at_once(alice_client, make_script):
    script = make_script("greeting")
    etag = alice_client.get(URL)["ETag"]

    script.script_content = {"system": "You are kinder now."}
    services.script_save(script=script)
    response = alice_client.get(URL, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 200
    assert response["ETag"] != etag
    assert response.json()[0]["script_content"] == {"system": "You are kinder now."}


def test_a_deactivation_changes_the_etag_at_once(alice_client, make_script):
    make_script("greeting")
    make_script("other")
    etag = alice_client.get(URL)["ETag"]

    services.scripts_set_active(scripts=AIScript.objects.filter(script_name="greeting"), is_active=False)
    response = alice_client.get(URL, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 200
    assert [script["script_name"] for script in response.json()] == ["other"]


def test_it_shows_one_active_script_with_its_etag(alice_client, make_script):
    script = make_script("greeting", version="3.1")

    response = alice_client.get(f"{URL}/greeting")

    assert response.status_code == 200
    assert response.json() == {
        "script_name": "greeting",
        "version": "3.1",
        "script_content": {"system": "You are greeting."},
        "updated_at": iso(script.updated_at),
    }
    assert alice_client.get(f"{URL}/greeting", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_one_script_has_its_own_etag(alice_client, make_script):
    make_script("greeting")

    assert alice_client.get(f"{URL}/greeting")["ETag"] != alice_client.get(URL)["ETag"]


@pytest.mark.parametrize("name", ["missing", "hidden", "not.a.slug"])
def test_an_unknown_or_inactive_script_is_404(alice_client, make_script, name):
    make_script("hidden", is_active=False)

    response = alice_client.get(f"{URL}/{name}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_an_inactive_script_is_404_even_for_an_etag_it_had(alice_client, make_script):
    make_script("greeting")
    etag = alice_client.get(f"{URL}/greeting")["ETag"]

    services.scripts_set_active(scripts=AIScript.objects.all(), is_active=False)
    response = alice_client.get(f"{URL}/greeting", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 404


def test_one_script_needs_a_token(api_client, make_script):
    make_script("greeting")

    assert api_client.get(f"{URL}/greeting").status_code == 401


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", [URL, f"{URL}/greeting"])
def test_it_is_read_only(alice_client, make_script, method, path):
    script = make_script("greeting")

    response = getattr(alice_client, method)(path, {"script_name": "x", "version": "9"}, format="json")

    assert response.status_code == 405
    assert AIScript.objects.get() == script
    assert AIScript.objects.values_list("version", flat=True).get() == "1.0"


def test_a_script_holding_an_integer_beyond_64_bits_is_served(alice_client):
    AIScript.objects.create(script_name="huge", version="1", script_content={"max_tokens": 2**70})

    response = alice_client.get("/api/ai/scripts")

    assert response.status_code == 200
    assert response.json()[0]["script_content"] == {"max_tokens": 2**70}
