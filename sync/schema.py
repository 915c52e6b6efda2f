"""Examples for the sync endpoints in the OpenAPI schema."""

from drf_spectacular.utils import OpenApiExample

EXAMPLE_DEVICE = {
    "device_id": "pixel-8",
    "sync_version": 42,
    "data_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "last_sync_timestamp": "2026-11-25T18:40:09Z",
    "synced_at": "2026-11-25T18:40:11.003Z",
    "is_active": True,
}

REPORT = OpenApiExample(
    "A report",
    value={
        "device_id": "pixel-8",
        "sync_version": 42,
        "data_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "last_sync_timestamp": "2026-11-25T18:40:09Z",
    },
    request_only=True,
)
DEVICE = OpenApiExample("A device", value=EXAMPLE_DEVICE, response_only=True, status_codes=["200", "201"])
# drf-spectacular wraps a list endpoint's example in a list itself.
DEVICES = OpenApiExample("Devices", value=EXAMPLE_DEVICE, response_only=True)
STALE = OpenApiExample(
    "A stale version",
    value={
        "detail": "A newer version of this device's data is already stored.",
        "code": "stale_version",
        "device": EXAMPLE_DEVICE,
    },
    response_only=True,
    status_codes=["409"],
)
