"""POST /api/sync/status with bad input: 400 with the field's error, and nothing written."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sync.models import UserSyncStatus
from sync.tests.helpers import URL

VALID = {"device_id": "phone", "sync_version": 1, "data_hash": "hash-1"}

REQUIRED = "This field is required."
BLANK = "This field may not be blank."
NULL = "This field may not be null."
NOT_A_STRING = "Not a valid string."
TOO_LONG = "Ensure this field has no more than 255 characters."
NOT_AN_INTEGER = "A valid integer is required."
BAD_DATETIME = (
    "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)


BAD_DEVICE_ID = "A device id cannot contain '/' or control characters, nor start or end with whitespace."


def assert_nothing_written(user):
    assert not UserSyncStatus.objects.exists()
    user.refresh_from_db()
    assert (user.device_count, user.last_sync) == (0, None)


@pytest.mark.parametrize("field", ["device_id", "sync_version", "data_hash"])
def test_each_field_is_required(alice_client, alice, field):
    body = {name: value for name, value in VALID.items() if name != field}

    response = alice_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == {field: [REQUIRED]}
    assert_nothing_written(alice)


@pytest.mark.parametrize("field", ["device_id", "data_hash"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", BLANK),
        ("   ", BLANK),
        (None, NULL),
        ("x" * 256, TOO_LONG),
        (42, NOT_A_STRING),
        (True, NOT_A_STRING),
        (["phone"], NOT_A_STRING),
        ({"id": "phone"}, NOT_A_STRING),
        ("a\x00b", "Null characters are not allowed."),
    ],
)
def test_it_rejects_a_bad_string(alice_client, alice, field, value, message):
    response = alice_client.post(URL, {**VALID, field: value}, format="json")

    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert_nothing_written(alice)


def test_a_device_id_cannot_hold_a_slash(alice_client, alice):
    response = alice_client.post(URL, {**VALID, "device_id": "phone/1"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"device_id": [BAD_DEVICE_ID]}
    assert_nothing_written(alice)


@pytest.mark.parametrize("device_id", ["  padded  ", " phone", "phone\t", "pho\nne", "phone\x7f"])
def test_a_device_id_is_refused_rather_than_trimmed(alice_client, alice, device_id):
    response = alice_client.post(URL, {**VALID, "device_id": device_id}, format="json")

    assert response.status_code == 400
    assert response.json() == {"device_id": [BAD_DEVICE_ID]}
    assert_nothing_written(alice)


def test_a_device_id_may_hold_inner_spaces_and_any_script(alice_client, alice):
    response = alice_client.post(URL, {**VALID, "device_id": "Alice's phone 📱"}, format="json")

    assert response.status_code == 201
    assert UserSyncStatus.objects.get().device_id == "Alice's phone 📱"


def test_it_takes_255_character_strings(alice_client, alice):
    body = {**VALID, "device_id": "d" * 255, "data_hash": "h" * 255}

    response = alice_client.post(URL, body, format="json")

    assert response.status_code == 201
    assert UserSyncStatus.objects.get().device_id == "d" * 255


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "Ensure this value is greater than or equal to 0."),
        (2**63, "Ensure this value is less than or equal to 9223372036854775807."),
        (10**30, "Ensure this value is less than or equal to 9223372036854775807."),
        (1.5, NOT_AN_INTEGER),
        (2.0, NOT_AN_INTEGER),
        ("7", NOT_AN_INTEGER),
        (True, NOT_AN_INTEGER),
        (False, NOT_AN_INTEGER),
        ([1], NOT_AN_INTEGER),
        ({"v": 1}, NOT_AN_INTEGER),
        (None, NULL),
    ],
)
def test_it_rejects_a_bad_version(alice_client, alice, value, message):
    response = alice_client.post(URL, {**VALID, "sync_version": value}, format="json")

    assert response.status_code == 400
    assert response.json() == {"sync_version": [message]}
    assert_nothing_written(alice)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", BAD_DATETIME),
        ("26/11/2026 10:00", BAD_DATETIME),
        ("2026-13-01T00:00:00Z", BAD_DATETIME),
        ("1700000000", BAD_DATETIME),
        (1700000000, BAD_DATETIME),
        ([], BAD_DATETIME),
        ({"at": "2026-01-01T00:00:00Z"}, BAD_DATETIME),
        ("0001-01-01T00:00:00+01:00", "Datetime value out of range."),
    ],
)
def test_it_rejects_a_bad_timestamp(alice_client, alice, value, message):
    response = alice_client.post(URL, {**VALID, "last_sync_timestamp": value}, format="json")

    assert response.status_code == 400
    assert response.json() == {"last_sync_timestamp": [message]}
    assert_nothing_written(alice)


@pytest.mark.parametrize("claim", ["9999-12-31T23:59:59+00:00", "1970-01-01T00:00:00+00:00"])
def test_a_device_clock_far_off_does_not_stop_its_report(alice_client, alice, claim):
    response = alice_client.post(URL, {**VALID, "last_sync_timestamp": claim}, format="json")

    assert response.status_code == 201
    device = UserSyncStatus.objects.get()
    assert device.last_sync_timestamp.isoformat() == claim
    assert abs(device.synced_at - timezone.now()) < timedelta(minutes=1)


def test_every_bad_field_is_reported_at_once(alice_client, alice):
    body = {"device_id": "", "sync_version": -1, "data_hash": 5, "last_sync_timestamp": "soon"}

    response = alice_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"device_id", "sync_version", "data_hash", "last_sync_timestamp"}
    assert_nothing_written(alice)


def test_the_body_must_be_an_object(alice_client, alice):
    response = alice_client.post(URL, [VALID], format="json")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}
    assert_nothing_written(alice)


def test_a_null_body_is_a_400(alice_client, alice):
    response = alice_client.post(URL, "null", content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["No data provided"]}
    assert_nothing_written(alice)


@pytest.mark.parametrize(
    "raw",
    [
        "{not json",
        # More digits than Python's JSON parser converts to an int.
        '{"device_id": "phone", "data_hash": "h", "sync_version": ' + "9" * 5000 + "}",
    ],
)
def test_a_body_that_is_not_json_is_a_400(alice_client, alice, raw):
    response = alice_client.post(URL, raw, content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json()
    assert_nothing_written(alice)


def test_a_bad_report_leaves_the_stored_device_alone(alice_client, alice, add_device):
    device = add_device(alice, sync_version=3, data_hash="three")

    response = alice_client.post(URL, {**VALID, "sync_version": -4}, format="json")

    assert response.status_code == 400
    device.refresh_from_db()
    assert (device.sync_version, device.data_hash) == (3, "three")
