import pytest

from backups.models import UserBackup
from backups.tests.helpers import URL, sha256, stored, upload_body

BLANK = "This field may not be blank."
NULL = "This field may not be null."


def test_it_stores_a_verified_backup(alice_client, alice):
    data = "bm90IHJlYWxseSBlbmNyeXB0ZWQ="

    response = alice_client.post(URL, upload_body(data, device_id="phone-1", sync_version=7), format="json")

    assert response.status_code == 201
    backup = UserBackup.objects.get()
    assert response.json() == {
        "id": str(backup.id),
        "backup_date": backup.backup_date.isoformat().replace("+00:00", "Z"),
        "data_size": 28,
        "checksum": sha256(data),
        "device_id": "phone-1",
        "sync_version": 7,
    }
    assert (backup.user, stored(backup), backup.idempotency_key) == (alice, data.encode(), "")


def test_it_counts_utf8_bytes_not_characters(alice_client):
    response = alice_client.post(URL, upload_body("é€😀"), format="json")

    assert response.status_code == 201
    assert response.json()["data_size"] == 2 + 3 + 4
    assert UserBackup.objects.get().data_size == 9


def test_it_accepts_an_upper_case_checksum_and_stores_it_lower_case(alice_client):
    body = upload_body("payload")
    body["checksum"] = body["checksum"].upper()

    response = alice_client.post(URL, body, format="json")

    assert response.status_code == 201
    assert response.json()["checksum"] == sha256("payload")
    assert UserBackup.objects.get().checksum == sha256("payload")


def test_it_refuses_a_checksum_that_does_not_match(alice_client):
    body = {"encrypted_data": "payload", "checksum": sha256("another payload")}

    response = alice_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == {"checksum": ["Does not match the SHA-256 of encrypted_data."]}
    assert not UserBackup.objects.exists()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"encrypted_data": "", "checksum": sha256("")}, {"encrypted_data": [BLANK]}),
        ({"checksum": sha256("x")}, {"encrypted_data": ["This field is required."]}),
        ({"encrypted_data": None, "checksum": sha256("x")}, {"encrypted_data": [NULL]}),
        ({"encrypted_data": 42, "checksum": sha256("42")}, {"encrypted_data": ["Not a valid string."]}),
        ({"encrypted_data": ["x"], "checksum": sha256("x")}, {"encrypted_data": ["Not a valid string."]}),
        (
            {"encrypted_data": "a\x00b", "checksum": sha256("a\x00b")},
            {"encrypted_data": ["Null characters are not allowed."]},
        ),
        ({"encrypted_data": "x"}, {"checksum": ["This field is required."]}),
        (
            {"encrypted_data": "x", "checksum": "z" * 64},
            {"checksum": ["Must be 64 hexadecimal characters (SHA-256)."]},
        ),
        (
            {"encrypted_data": "x", "checksum": sha256("x")[:63]},
            {"checksum": ["Must be 64 hexadecimal characters (SHA-256)."]},
        ),
        (
            {**upload_body("x"), "device_id": "d" * 256},
            {"device_id": ["Ensure this field has no more than 255 characters."]},
        ),
        (
            {**upload_body("x"), "sync_version": -1},
            {"sync_version": ["Ensure this value is greater than or equal to 0."]},
        ),
        ({**upload_body("x"), "sync_version": "v2"}, {"sync_version": ["A valid integer is required."]}),
        ({**upload_body("x"), "sync_version": "7"}, {"sync_version": ["A valid integer is required."]}),
        ({**upload_body("x"), "device_id": 0}, {"device_id": ["Not a valid string."]}),
        ({**upload_body("x"), "checksum": 1}, {"checksum": ["Not a valid string."]}),
    ],
)
def test_it_rejects_bad_input_and_stores_nothing(alice_client, body, errors):
    response = alice_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert not UserBackup.objects.exists()


def test_it_rejects_a_payload_that_is_not_valid_unicode(alice_client):
    # A lone surrogate is valid JSON but has no UTF-8 form.
    body = '{"encrypted_data": "ab\\ud800", "checksum": "' + "0" * 64 + '"}'

    response = alice_client.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"encrypted_data": ["Must be valid Unicode text (no lone surrogates)."]}
    assert not UserBackup.objects.exists()


def test_it_rejects_malformed_json(alice_client):
    response = alice_client.post(URL, '{"encrypted_data": "x', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert not UserBackup.objects.exists()


def test_it_rejects_a_body_that_is_not_utf8(alice_client):
    body = b'{"encrypted_data": "\xff\xfe", "checksum": "' + b"0" * 64 + b'"}'

    response = alice_client.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert not UserBackup.objects.exists()


def test_it_rejects_a_non_object_body(alice_client):
    response = alice_client.post(URL, '["x"]', content_type="application/json")

    assert response.status_code == 400
    assert not UserBackup.objects.exists()


def test_it_needs_json(alice_client):
    response = alice_client.post(URL, "encrypted_data=x", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert not UserBackup.objects.exists()


def test_it_needs_a_token(api_client, alice):
    response = api_client.post(URL, upload_body("payload"), format="json")

    assert response.status_code == 401
    assert not UserBackup.objects.exists()


def test_uploads_are_limited_per_user_and_a_refused_one_stores_nothing(alice_client, bob_client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "backup-user": "2/h"}
    statuses = [alice_client.post(URL, upload_body(f"v{n}"), format="json").status_code for n in range(2)]

    limited = alice_client.post(URL, upload_body("one too many"), format="json")

    assert statuses == [201, 201]
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1
    assert UserBackup.objects.count() == 2
    assert bob_client.post(URL, upload_body("bob's"), format="json").status_code == 201
