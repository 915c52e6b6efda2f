"""Examples for the backup endpoints in the OpenAPI schema."""

import hashlib

from drf_spectacular.utils import OpenApiExample

# The upload example is one the server accepts: its checksum is the payload's.
EXAMPLE_PAYLOAD = "AES256-GCM:bm9uY2UtMTIzNA==:c2VhbGVkIGJyYWluIHNuYXBzaG90"
EXAMPLE_CHECKSUM = hashlib.sha256(EXAMPLE_PAYLOAD.encode()).hexdigest()
EXAMPLE_METADATA = {
    "id": "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
    "backup_date": "2026-11-25T18:41:30.220Z",
    "data_size": len(EXAMPLE_PAYLOAD),
    "checksum": EXAMPLE_CHECKSUM,
    "device_id": "pixel-8",
    "sync_version": 42,
}

UPLOAD = OpenApiExample(
    "An encrypted snapshot",
    value={
        "encrypted_data": EXAMPLE_PAYLOAD,
        "checksum": EXAMPLE_CHECKSUM,
        "device_id": "pixel-8",
        "sync_version": 42,
    },
    request_only=True,
)
METADATA = OpenApiExample("Stored", value=EXAMPLE_METADATA, response_only=True, status_codes=["200", "201"])
BACKUP = OpenApiExample(
    "A backup", value={**EXAMPLE_METADATA, "encrypted_data": EXAMPLE_PAYLOAD}, response_only=True
)
TOO_LARGE = OpenApiExample(
    "Too large",
    value={"detail": "A backup may hold at most 10485760 bytes (10 MiB).", "code": "backup_too_large"},
    response_only=True,
    status_codes=["413"],
)
