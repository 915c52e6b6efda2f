"""Shared by the sync tests: the endpoint and the API's shape of a device row."""

from sync.models import UserSyncStatus

URL = "/api/sync/status"


def row(device: UserSyncStatus) -> dict:
    """The device as the API shows it, read from the database."""
    device.refresh_from_db()
    return {
        "device_id": device.device_id,
        "sync_version": device.sync_version,
        "data_hash": device.data_hash,
        "last_sync_timestamp": iso(device.last_sync_timestamp),
        "synced_at": iso(device.synced_at),
        "is_active": device.is_active,
    }


def iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
