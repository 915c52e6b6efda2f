"""Device sync rules: which reports are accepted, and the user's counters that follow them.

A device's row is changed only while it is locked (or by one conditional UPDATE), and the
user's `device_count` moves by increments in the same transaction, on exactly the
transitions that change the number of active devices: a new device, a deactivated device
that reports again, an active device deactivated. So the count stays equal to the number
of active rows however many requests race, without ever counting rows in Python.

On PostgreSQL a report is one statement (sync/sql.py), which locks, compares, stores and
counts in one round trip, which pays for its SQL (bench/README.md). Other
databases take the same steps through the ORM (_report). Both run the whole sync suite, race
tests included, on the database each serves.
"""

import uuid
from collections import Counter, defaultdict
from datetime import datetime

from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from rest_framework.exceptions import NotFound, PermissionDenied

from accounts.models import DEVICE_LIMIT_CONSTRAINT, MAX_ACTIVE_DEVICES, User
from accounts.services import token_families_revoke
from persona import events
from sync.models import UserSyncStatus
from sync.sql import REPORT_SQL


class RejectionCode(models.TextChoices):
    """Why a report was refused (a 409's `code`)."""

    STALE_VERSION = "stale_version", "an older version than the stored one"
    SYNC_CONFLICT = "sync_conflict", "the stored version with another hash"


class SyncRejected(Exception):
    """A report that would lose data; `device` is the stored row the device should pull."""

    def __init__(self, *, code: str, detail: str, device: UserSyncStatus):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.device = device


def sync_status_report(
    *,
    user: User,
    device_id: str,
    sync_version: int,
    data_hash: str,
    last_sync_timestamp: datetime | None = None,
) -> tuple[UserSyncStatus, bool]:
    """Stores a device's report; returns the row and whether it was created.

    Newer versions are stored, the same version with the same hash is a retry that changes
    nothing, anything else raises SyncRejected. A report from a deactivated device
    reactivates it. A report that would make one active device too many is a 403.
    """
    report = {
        "user": user,
        "device_id": device_id,
        "sync_version": sync_version,
        "data_hash": data_hash,
        "last_sync_timestamp": last_sync_timestamp,
    }
    device, created, stored = _stored(report)
    if stored:
        events.publish(
            user_id=user.pk,
            type=events.EventType.SYNC_VERSION,
            data={"device_id": device_id, "sync_version": sync_version, "data_hash": data_hash},
            source_device=device_id,
        )
    return device, created


def _stored(report: dict) -> tuple[UserSyncStatus, bool, bool]:
    """The report applied: (device, created, whether anything was stored); a retry stores nothing."""
    try:
        if connection.vendor == "postgresql":
            return _report_in_one_statement(**report)
        try:
            return _report(**report)
        except IntegrityError as error:
            if DEVICE_LIMIT_CONSTRAINT in str(error):
                raise
            # A concurrent first report of this device inserted it after this one looked. The
            # unique index made this insert wait for that commit, so a second attempt finds
            # the row, locks it and compares versions.
            return _report(**report)
    except IntegrityError as error:
        if DEVICE_LIMIT_CONSTRAINT in str(error):
            raise PermissionDenied(
                {
                    "detail": f"This account already has {MAX_ACTIVE_DEVICES} active devices; "
                    "deactivate one before adding another.",
                    "code": "too_many_devices",
                }
            ) from None
        raise


def sync_status_deactivate(*, user: User, device_id: str) -> None:
    """Marks the device inactive and signs it out (its token families are revoked). A device
    that signed in with this id but never reported is signed out all the same."""
    with transaction.atomic():
        # Conditional: of two racing deactivations only one sees the device active.
        deactivated = user.sync_statuses.filter(device_id=device_id, is_active=True).update(is_active=False)
        if deactivated:
            User.objects.filter(pk=user.pk).update(device_count=F("device_count") - 1)
        token_families_revoke(user=user, device_id=device_id)
        if deactivated:
            events.publish(
                user_id=user.pk, type=events.EventType.DEVICE_DEACTIVATED, data={"device_id": device_id}
            )
        known = (
            deactivated
            or user.sync_statuses.filter(device_id=device_id).exists()
            or user.token_families.filter(device_id=device_id).exists()
        )
        if not known:
            raise NotFound()


def sync_statuses_deactivate_stale(*, synced_before: datetime, dry_run: bool = False) -> list[UserSyncStatus]:
    """Deactivates every active device whose last accepted report is older than
    `synced_before`; returns those devices (with their users) as they were found."""
    stale = (
        UserSyncStatus.objects.filter(is_active=True, synced_at__lt=synced_before)
        .select_related("user")
        .order_by("pk")
    )
    if dry_run:
        return list(stale)
    with transaction.atomic():
        # Locked in pk order, so two runs cannot deadlock; a device that reports while this
        # waits for its lock is seen with its new synced_at and left alone.
        devices = list(stale.select_for_update(of=("self",)))
        UserSyncStatus.objects.filter(pk__in=[device.pk for device in devices]).update(is_active=False)
        users_by_count = defaultdict(list)
        for user_id, count in Counter(device.user_id for device in devices).items():
            users_by_count[count].append(user_id)
        for count, user_ids in users_by_count.items():
            User.objects.filter(pk__in=user_ids).update(device_count=F("device_count") - count)
    return devices


def _report(
    *,
    user: User,
    device_id: str,
    sync_version: int,
    data_hash: str,
    last_sync_timestamp: datetime | None,
) -> tuple[UserSyncStatus, bool, bool]:
    with transaction.atomic():
        device = user.sync_statuses.select_for_update().filter(device_id=device_id).first()
        now = timezone.now()
        if device is None:
            device = UserSyncStatus.objects.create(
                user=user,
                device_id=device_id,
                sync_version=sync_version,
                data_hash=data_hash,
                last_sync_timestamp=last_sync_timestamp,
                synced_at=now,
            )
            _user_synced(user, at=now, devices_added=1)
            return device, True, True

        _check_version(device, sync_version=sync_version, data_hash=data_hash)
        if device.is_active and device.sync_version == sync_version:
            return device, False, False
        devices_added = 0 if device.is_active else 1
        # Never back in time, even if another app instance's clock is behind this one's.
        now = max(now, device.synced_at)
        device.sync_version = sync_version
        device.data_hash = data_hash
        device.last_sync_timestamp = last_sync_timestamp
        device.synced_at = now
        device.is_active = True
        device.save(
            update_fields=["sync_version", "data_hash", "last_sync_timestamp", "synced_at", "is_active"]
        )
        _user_synced(user, at=now, devices_added=devices_added)
        return device, False, True


def _check_version(device: UserSyncStatus, *, sync_version: int, data_hash: str) -> None:
    if sync_version < device.sync_version:
        raise SyncRejected(
            code=RejectionCode.STALE_VERSION,
            detail="A newer version of this device's data is already stored.",
            device=device,
        )
    if sync_version == device.sync_version and data_hash != device.data_hash:
        raise SyncRejected(
            code=RejectionCode.SYNC_CONFLICT,
            detail="This version is already stored with different data.",
            device=device,
        )


def _user_synced(user: User, *, at: datetime, devices_added: int) -> None:
    # The later of the stored time and this one: another device's report may have read the
    # clock after this one and committed first.
    User.objects.filter(pk=user.pk).update(
        last_sync=Greatest(Coalesce("last_sync", Value(at)), Value(at)),
        device_count=F("device_count") + devices_added,
    )


def _report_in_one_statement(
    *,
    user: User,
    device_id: str,
    sync_version: int,
    data_hash: str,
    last_sync_timestamp: datetime | None,
) -> tuple[UserSyncStatus, bool, bool]:
    """_report's rules in REPORT_SQL: accepted reports come back stored, others as they were."""
    params = {
        "user_id": user.pk,
        "new_id": uuid.uuid4(),
        "device_id": device_id,
        "sync_version": sync_version,
        "data_hash": data_hash,
        "last_sync_timestamp": last_sync_timestamp,
        "now": timezone.now(),
    }
    with connection.cursor() as cursor:
        cursor.execute(REPORT_SQL, params)
        row = cursor.fetchone()
        if row is None:
            # The first report of this device raced another one and lost; now the row exists.
            cursor.execute(REPORT_SQL, params)
            row = cursor.fetchone()
    accepted, *values = row
    device = UserSyncStatus.from_db(connection.alias, None, values)
    if not accepted:
        _check_version(device, sync_version=sync_version, data_hash=data_hash)
    return device, accepted and device.id == params["new_id"], accepted
