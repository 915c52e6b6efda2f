"""Backup rules: verified uploads, idempotent retries and per-user retention.

Every write for a user first locks that user's row, so one user's uploads and prunes run
one after another: retention and idempotency always decide on a settled set of backups.
"""

import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from backups.exceptions import BackupTooLarge
from backups.models import UserBackup
from persona import events
from persona.exceptions import Conflict

# The payload is encoded for hashing a slice at a time, so its UTF-8 bytes never exist whole.
ENCODE_SLICE_CHARS = 1024 * 1024


def backup_create(
    *,
    user,
    encrypted_data: str,
    checksum: str,
    device_id: str = "",
    sync_version: int | None = None,
    idempotency_key: str = "",
) -> tuple[UserBackup, bool]:
    """Stores a verified backup and prunes the user's oldest beyond BACKUP_KEEP.

    Returns (backup, created). A retry with an earlier Idempotency-Key returns that
    earlier backup (created False) when it carries the same upload, else a 409; so does a
    backup older (by sync_version) than one already stored.
    """
    data_size, digest = _measure(encrypted_data)
    if data_size > settings.BACKUP_MAX_BYTES:
        raise BackupTooLarge()
    if digest != checksum.lower():
        raise ValidationError({"checksum": ["Does not match the SHA-256 of encrypted_data."]})
    with transaction.atomic():
        _lock_user(user.pk)
        earlier = _earlier_upload(
            user=user, idempotency_key=idempotency_key, upload=(digest, device_id, sync_version)
        )
        if earlier is not None:
            return earlier, False
        _refuse_stale(user=user, sync_version=sync_version)
        backup = UserBackup.objects.create(
            user=user,
            encrypted_data=encrypted_data,
            # Taken under the user's lock, so each upload is later than the ones before it.
            backup_date=timezone.now(),
            data_size=data_size,
            checksum=digest,
            device_id=device_id,
            sync_version=sync_version,
            idempotency_key=idempotency_key,
        )
        # Even a BACKUP_KEEP below 1 keeps the backup just uploaded.
        _prune(user_id=user.pk, keep=max(settings.BACKUP_KEEP, 1), always_keep=backup.pk)
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
    return backup, True


def backup_delete(*, backup: UserBackup) -> None:
    """Deletes the backup and tells the user's devices."""
    with transaction.atomic():
        backup_id = backup.pk
        backup.delete()
        events.publish(
            user_id=backup.user_id, type=events.EventType.BACKUP_DELETED, data={"backup_id": str(backup_id)}
        )


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
                _lock_user(user_id)
                deleted += _prune(user_id=user_id, keep=keep)
        users += 1
    return deleted, users


def _earlier_upload(*, user, idempotency_key: str, upload: tuple) -> UserBackup | None:
    """The backup stored under this Idempotency-Key; a 409 when it holds a different upload."""
    if not idempotency_key:
        return None
    earlier = UserBackup.objects.without_payload().filter(user=user, idempotency_key=idempotency_key).first()
    if earlier is not None and (earlier.checksum, earlier.device_id, earlier.sync_version) != upload:
        raise Conflict(
            {
                "detail": "This Idempotency-Key was already used for a different upload.",
                "code": "idempotency_key_reused",
            }
        )
    return earlier


def _refuse_stale(*, user, sync_version: int | None) -> None:
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
    them) with one DELETE that never reads a payload."""
    backups = UserBackup.objects.filter(user_id=user_id)
    newest = backups.exclude(pk=always_keep).order_by("-backup_date", "-id").values_list("pk", flat=True)
    survivors = [always_keep, *newest[: keep - 1]] if always_keep else list(newest[:keep])
    deleted, _ = backups.exclude(pk__in=survivors).delete()
    return deleted


def _lock_user(user_id) -> None:
    list(get_user_model().objects.select_for_update().filter(pk=user_id).values_list("pk"))


def _measure(encrypted_data: str) -> tuple[int, str]:
    """The payload's UTF-8 size and SHA-256 hex digest, in one pass."""
    digest = hashlib.sha256()
    size = 0
    try:
        for start in range(0, len(encrypted_data), ENCODE_SLICE_CHARS):
            chunk = encrypted_data[start : start + ENCODE_SLICE_CHARS].encode("utf-8")
            size += len(chunk)
            digest.update(chunk)
    except UnicodeEncodeError:
        raise ValidationError(
            {"encrypted_data": ["Must be valid Unicode text (no lone surrogates)."]}
        ) from None
    return size, digest.hexdigest()
