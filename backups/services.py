"""Backup rules: verified uploads, idempotent retries, per-user retention and quota.

Every write for a user first locks that user's row, so one user's uploads and prunes run
one after another: retention, quota and idempotency always decide on a settled set of
backups. A payload is written to storage before its row exists and deleted after its row is
gone, so a crash in between leaves at worst an orphaned object (`manage.py
backups_orphans` finds those), never a backup without its bytes.
"""

import hashlib
import uuid
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from backups import storage
from backups.exceptions import BackupTooLarge, QuotaExceeded
from backups.models import BackupUpload, UserBackup
from backups.parsers import JSON_ELSEWHERE
from persona import events
from persona.exceptions import Conflict


def backup_create(
    *,
    user,
    encrypted_data: str,
    checksum: str,
    device_id: str = "",
    sync_version: int | None = None,
    idempotency_key: str = "",
) -> tuple[UserBackup, bool]:
    """Stores a backup sent inside a JSON body (its payload: the UTF-8 bytes of
    `encrypted_data`) and prunes the user's oldest beyond BACKUP_KEEP.

    Returns (backup, created). A retry with an earlier Idempotency-Key returns that
    earlier backup (created False) when it carries the same upload, else a 409; so does a
    backup older (by sync_version) than one already stored.
    """
    data = _encode(encrypted_data)
    if len(data) > settings.BACKUP_JSON_MAX_BYTES:
        raise BackupTooLarge(settings.BACKUP_JSON_MAX_BYTES, JSON_ELSEWHERE)
    digest = hashlib.sha256(data).hexdigest()
    if digest != checksum.lower():
        raise ValidationError({"checksum": ["Does not match the SHA-256 of encrypted_data."]})
    upload = (digest, device_id, sync_version)
    # Asked once before writing anything, so a retry or a refused upload costs no storage;
    # backup_store asks again under the user's lock.
    earlier = backup_earlier(user=user, idempotency_key=idempotency_key, upload=upload)
    if earlier is not None:
        return earlier, False
    backup_refuse_stale(user=user, sync_version=sync_version)
    quota_check(user=user, adding=len(data))

    backup_id = uuid.uuid4()
    key = storage.backup_key(user.pk, backup_id)
    storage.payload_save(key, data)
    try:
        backup, created = backup_store(
            user=user,
            backup_id=backup_id,
            storage_key=key,
            data_size=len(data),
            checksum=digest,
            device_id=device_id,
            sync_version=sync_version,
            idempotency_key=idempotency_key,
        )
    except BaseException:
        storage.payload_delete(key)
        raise
    if not created:
        storage.payload_delete(key)
    return backup, created


def backup_store(
    *,
    user,
    backup_id,
    storage_key: str,
    data_size: int,
    checksum: str,
    device_id: str,
    sync_version: int | None,
    idempotency_key: str,
    upload: BackupUpload | None = None,
) -> tuple[UserBackup, bool]:
    """Makes a payload already in storage a backup (the rules of backup_create), prunes
    beyond BACKUP_KEEP and tells the user's devices. `upload`: the tus upload it came from,
    marked complete in the same transaction."""
    with transaction.atomic():
        user_lock(user.pk)
        earlier = backup_earlier(
            user=user, idempotency_key=idempotency_key, upload=(checksum, device_id, sync_version)
        )
        if earlier is not None:
            backup, created = earlier, False
        else:
            backup_refuse_stale(user=user, sync_version=sync_version)
            quota_check(user=user, adding=data_size, upload=upload)
            backup = UserBackup.objects.create(
                id=backup_id,
                user=user,
                storage_key=storage_key,
                # Taken under the user's lock, so each upload is later than the ones before it.
                backup_date=timezone.now(),
                data_size=data_size,
                checksum=checksum,
                device_id=device_id,
                sync_version=sync_version,
                idempotency_key=idempotency_key,
            )
            created = True
            # Even a BACKUP_KEEP below 1 keeps the backup just uploaded.
            _prune(user_id=user.pk, keep=_keep(), always_keep=backup.pk)
            events.publish(
                user_id=user.pk,
                type=events.EventType.BACKUP_CREATED,
                data={
                    "backup_id": str(backup.pk),
                    "device_id": device_id,
                    "sync_version": sync_version,
                    "data_size": data_size,
                },
                source_device=device_id,
            )
        if upload is not None:
            upload.offset = upload.length
            upload.backup = backup
            upload.completed_at = timezone.now()
            upload.save(update_fields=["offset", "backup", "completed_at", "storage_state"])
    return backup, created


def backup_delete(*, backup: UserBackup) -> None:
    """Deletes the backup and its payload, and tells the user's devices."""
    with transaction.atomic():
        backup_id, key = backup.pk, backup.storage_key
        backup.delete()
        _delete_payloads_on_commit([key])
        events.publish(
            user_id=backup.user_id, type=events.EventType.BACKUP_DELETED, data={"backup_id": str(backup_id)}
        )


def backups_delete_for_user(*, user_id) -> None:
    """Call inside the transaction that deletes the user: once it commits, the payloads of the
    user's backups and unfinished uploads are deleted from storage too (the rows go by CASCADE)."""
    keys = list(UserBackup.objects.filter(user_id=user_id).values_list("storage_key", flat=True))
    _delete_payloads_on_commit(keys)
    for upload in BackupUpload.objects.filter(user_id=user_id, completed_at=None):
        transaction.on_commit(partial(storage.upload_abort, upload), robust=True)


def storage_used(*, user, upload: BackupUpload | None = None) -> int:
    """Bytes the user's quota counts once one more backup is stored: the backups retention
    keeps beside it (the newest BACKUP_KEEP - 1) and the unfinished uploads that have not
    expired, `upload` aside."""
    kept = (
        UserBackup.objects.filter(user=user)
        .order_by("-backup_date", "-id")
        .values_list("data_size", flat=True)[: _keep() - 1]
    )
    uploads = BackupUpload.objects.filter(user=user, completed_at=None, expires_at__gt=timezone.now())
    if upload is not None:
        uploads = uploads.exclude(pk=upload.pk)
    return sum(kept) + (uploads.aggregate(total=Sum("length"))["total"] or 0)


def quota_check(*, user, adding: int, upload: BackupUpload | None = None) -> None:
    """A 413 naming the quota and the current use when `adding` more bytes would pass it."""
    used = storage_used(user=user, upload=upload)
    if used + adding > settings.BACKUP_QUOTA_BYTES:
        raise QuotaExceeded(used=used, adding=adding)


def backups_prune(*, keep: int, dry_run: bool = False) -> tuple[int, int]:
    """Keeps each user's newest `keep` backups. Returns (backups deleted, users affected);
    with dry_run, what would be deleted, and nothing is."""
    if keep < 1:
        raise ValueError("keep must be at least 1: the newest backup is never pruned")
    crowded = (
        UserBackup.objects.values("user_id")
        .annotate(count=Count("id"))
        .filter(count__gt=keep)
        .values_list("user_id", "count")
    )
    deleted = users = 0
    for user_id, count in crowded:
        if dry_run:
            deleted += count - keep
        else:
            with transaction.atomic():
                user_lock(user_id)
                deleted += _prune(user_id=user_id, keep=keep)
        users += 1
    return deleted, users


def backup_earlier(*, user, idempotency_key: str, upload: tuple) -> UserBackup | None:
    """The backup stored under this Idempotency-Key; a 409 when it holds a different upload."""
    if not idempotency_key:
        return None
    earlier = UserBackup.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if earlier is not None and (earlier.checksum, earlier.device_id, earlier.sync_version) != upload:
        raise Conflict(
            {
                "detail": "This Idempotency-Key was already used for a different upload.",
                "code": "idempotency_key_reused",
            }
        )
    return earlier


def backup_refuse_stale(*, user, sync_version: int | None) -> None:
    """A 409 for a backup of an older data version than one already stored, or of no version
    once the user's backups carry one.

    Networks deliver late: an upload a device gave up on can arrive after that device (or
    another) stored newer data, and would otherwise become the latest backup, rolling back
    whoever restores from it. Refusing it also keeps the stored versions rising with their
    dates, so retention (by date) can never prune the newest version. An upload without a
    version cannot be placed among versioned ones, so it is refused rather than made latest.
    """
    newest = UserBackup.objects.filter(user=user).aggregate(newest=Max("sync_version"))["newest"]
    if newest is None:
        return
    if sync_version is None:
        raise Conflict(
            {
                "detail": f"This account's backups carry a sync_version ({newest} is stored); "
                "send the upload's own.",
                "code": "sync_version_required",
            }
        )
    if sync_version < newest:
        raise Conflict(
            {
                "detail": f"A backup of sync_version {newest} is already stored; download it first.",
                "code": "stale_version",
            }
        )


def _prune(*, user_id, keep: int, always_keep=None) -> int:
    """Deletes all but the user's newest `keep` backups (`always_keep` counting as one of
    them), and their payloads once the transaction commits."""
    backups = UserBackup.objects.filter(user_id=user_id)
    newest = backups.exclude(pk=always_keep).order_by("-backup_date", "-id").values_list("pk", flat=True)
    survivors = [always_keep, *newest[: keep - 1]] if always_keep else list(newest[:keep])
    doomed = backups.exclude(pk__in=survivors)
    keys = list(doomed.values_list("storage_key", flat=True))
    if not keys:
        return 0
    doomed.delete()
    _delete_payloads_on_commit(keys)
    return len(keys)


def _delete_payloads_on_commit(keys: list[str]) -> None:
    """Payloads go once their rows are surely gone; one that fails to go is an orphan for
    `manage.py backups_orphans`, not an error for the user."""
    for key in keys:
        transaction.on_commit(partial(storage.payload_delete, key), robust=True)


def _keep() -> int:
    return max(settings.BACKUP_KEEP, 1)


def user_lock(user_id) -> None:
    list(get_user_model().objects.select_for_update().filter(pk=user_id).values_list("pk"))


def _encode(encrypted_data: str) -> bytes:
    try:
        return encrypted_data.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            {"encrypted_data": ["Must be valid Unicode text (no lone surrogates)."]}
        ) from None
