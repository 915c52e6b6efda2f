"""Resumable uploads (tus): the rules for creating, appending to, finishing, cancelling and
expiring them. backups.tus speaks the protocol; the bytes go through backups.storage.

An upload's progress is in the database, its bytes in storage, so any app instance can take
its next piece, also after a restart. One request appends at a time: it takes a lease on
the upload row (a conditional UPDATE) and renews it while the bytes flow.
"""

import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException

from backups import services, storage
from backups.exceptions import BackupTooLarge, TooManyUploads
from backups.models import BackupUpload
from persona.exceptions import Conflict

# A request that stops renewing its lease (its worker died) blocks the upload this long.
LEASE_SECONDS = 60


class UploadGone(APIException):
    status_code = status.HTTP_410_GONE
    default_code = "upload_expired"

    def __init__(self):
        super().__init__({"detail": "This upload has expired; start a new one.", "code": self.default_code})


class UploadLocked(APIException):
    status_code = status.HTTP_423_LOCKED
    default_code = "upload_locked"

    def __init__(self):
        super().__init__(
            {
                "detail": "Another request is appending to this upload; retry when it has finished.",
                "code": self.default_code,
            }
        )


class ChecksumMismatch(APIException):
    # tus's "Checksum Mismatch".
    status_code = 460
    default_code = "checksum_mismatch"


def upload_create(
    *,
    user,
    length: int,
    checksum: str,
    device_id: str = "",
    sync_version: int | None = None,
    idempotency_key: str = "",
) -> tuple[BackupUpload, bool]:
    """Starts an upload of `length` bytes whose SHA-256 is `checksum`, once every limit
    allows it. Returns (upload, created): the same Idempotency-Key with the same
    declaration returns the upload made the first time (also a finished one)."""
    if length > settings.BACKUP_MAX_BYTES:
        raise BackupTooLarge(settings.BACKUP_MAX_BYTES)
    declared = {"length": length, "checksum": checksum, "device_id": device_id, "sync_version": sync_version}
    now = timezone.now()
    with transaction.atomic():
        services.user_lock(user.pk)
        if idempotency_key:
            earlier = BackupUpload.objects.filter(user=user, idempotency_key=idempotency_key).first()
            if earlier is not None:
                if any(getattr(earlier, name) != value for name, value in declared.items()):
                    raise Conflict(
                        {
                            "detail": "This Idempotency-Key was already used for a different upload.",
                            "code": "idempotency_key_reused",
                        }
                    )
                return earlier, False
            backup = services.backup_earlier(
                user=user, idempotency_key=idempotency_key, upload=(checksum, device_id, sync_version)
            )
            if backup is not None:
                # Stored already through the JSON endpoint: an upload that is complete at once.
                upload = BackupUpload.objects.create(
                    user=user, **declared, idempotency_key=idempotency_key, offset=length,
                    backup=backup, completed_at=now, expires_at=_expiry(now),
                )  # fmt: skip
                return upload, True
        services.backup_refuse_stale(user=user, sync_version=sync_version)
        unfinished = _unfinished(user).count()
        if unfinished >= settings.BACKUP_UPLOADS_PER_USER:
            raise TooManyUploads(unfinished=unfinished)
        services.quota_check(user=user, adding=length)
        upload = BackupUpload.objects.create(
            user=user, **declared, idempotency_key=idempotency_key, expires_at=_expiry(now)
        )
    try:
        storage.upload_start(upload)
        upload.save(update_fields=["storage_state"])
    except BaseException:
        upload.delete()
        raise
    return upload, True


def upload_append(*, upload: BackupUpload, offset: int, chunks: Iterable[bytes], verify=None) -> BackupUpload:
    """Appends the bytes `chunks` yields at `offset`, which must be where the upload stands.

    `verify()`, called once the chunks are exhausted, returns whether they may be kept (the
    request's Upload-Checksum matched, the request arrived whole); if not, nothing is kept.
    When the bytes complete the upload it becomes a backup (see upload_finish).
    """
    upload_check_offset(upload, offset)
    token = _take_lease(upload)
    previous_state = upload.storage_state
    digest = _running_digests.take(upload.pk, offset)
    try:
        written = storage.upload_append(upload, _renewing(_hashing(chunks, digest), upload, token))
        if verify is not None and not verify():
            storage.upload_forget(kept=previous_state, dropped=upload.storage_state)
            upload.storage_state = previous_state
            return upload
        if offset + written < upload.length:
            upload.offset = offset + written
            upload.save(update_fields=["offset", "storage_state"])
            storage.upload_forget(kept=upload.storage_state, dropped=previous_state)
            _running_digests.keep(upload.pk, upload.offset, digest)
            return upload
        # The offset is saved with the backup it completes: an upload whose offset is its
        # length is always a backup.
        try:
            upload_finish(upload, digest=digest.hexdigest() if digest else None)
        finally:
            # Whether it became a backup or was refused, the upload's pieces are done with.
            storage.upload_forget(kept={}, dropped=previous_state)
        return upload
    finally:
        _release_lease(upload, token)


def upload_check_offset(upload: BackupUpload, offset: int) -> None:
    """A 409 unless `offset` is where the unfinished upload stands; a 410 once it expired."""
    if upload.is_complete:
        raise _offset_mismatch(upload)
    if upload.expires_at <= timezone.now():
        raise UploadGone()
    if offset != upload.offset:
        raise _offset_mismatch(upload)


def upload_finish(upload: BackupUpload, *, digest: str | None) -> None:
    """Makes a fully received upload a backup, with every rule a backup follows. Whatever
    refuses it (checksum, sync_version, quota, storage) ends the upload: its bytes are
    deleted and the client starts again."""
    key = None
    try:
        key = storage.upload_complete(upload)
        if (digest or storage.payload_sha256(key)) != upload.checksum:
            raise ChecksumMismatch(
                {
                    "detail": "The upload's bytes do not match its declared checksum; nothing was stored.",
                    "code": ChecksumMismatch.default_code,
                }
            )
        _, created = services.backup_store(
            user=upload.user,
            backup_id=upload.id,
            storage_key=key,
            data_size=upload.length,
            checksum=upload.checksum,
            device_id=upload.device_id,
            sync_version=upload.sync_version,
            idempotency_key=upload.idempotency_key,
            upload=upload,
        )
    except BaseException:
        storage.upload_abort(upload)
        if key is not None:
            storage.payload_delete(key)
        upload.delete()
        raise
    if not created:
        storage.payload_delete(key)


def upload_cancel(*, upload: BackupUpload) -> None:
    """Deletes an upload and the bytes received so far (a finished upload's backup stays)."""
    if not upload.is_complete:
        storage.upload_abort(upload)
    upload.delete()


def uploads_expire(*, dry_run: bool = False) -> int:
    """Deletes uploads past their expiry, and the bytes of unfinished ones; returns how many."""
    expired = BackupUpload.objects.filter(expires_at__lte=timezone.now())
    if dry_run:
        return expired.count()
    count = 0
    for upload in expired.iterator():
        upload_cancel(upload=upload)
        count += 1
    return count


class RunningDigests:
    """The SHA-256 of an upload's bytes so far, kept by the process that received them.

    When an upload's next piece arrives at the same process (a client's keep-alive
    connection stays with one worker), the digest goes on from there, and the last piece
    finishes it without reading the payload back from storage; a piece that arrives
    elsewhere (another worker or instance, after a restart) starts without one, and the
    upload's end reads the payload back (upload_finish). A digest is only ever used for the
    offset it covers. Bounded: the oldest are forgotten first.
    """

    KEPT = 256

    def __init__(self):
        self._digests: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def take(self, upload_id, offset: int):
        """The digest of the upload's first `offset` bytes, if this process has it."""
        if offset == 0:
            return hashlib.sha256()
        with self._lock:
            covered, digest = self._digests.pop(upload_id, (None, None))
        return digest if covered == offset else None

    def keep(self, upload_id, offset: int, digest) -> None:
        if digest is None:
            return
        with self._lock:
            self._digests[upload_id] = (offset, digest)
            while len(self._digests) > self.KEPT:
                self._digests.popitem(last=False)


_running_digests = RunningDigests()


def _hashing(chunks: Iterable[bytes], digest) -> Iterable[bytes]:
    if digest is None:
        return chunks
    return (digest.update(chunk) or chunk for chunk in chunks)


def _unfinished(user):
    return BackupUpload.objects.filter(user=user, completed_at=None, expires_at__gt=timezone.now())


def _expiry(now):
    return now + timedelta(seconds=settings.BACKUP_UPLOAD_EXPIRY_SECONDS)


def _offset_mismatch(upload: BackupUpload) -> Conflict:
    error = Conflict(
        {
            "detail": f"Upload-Offset must be {upload.offset}, where the upload stands.",
            "code": "offset_mismatch",
        }
    )
    error.detail["offset"] = upload.offset
    return error


def _take_lease(upload: BackupUpload) -> uuid.UUID:
    token = uuid.uuid4()
    now = timezone.now()
    taken = (
        BackupUpload.objects.filter(pk=upload.pk, offset=upload.offset, completed_at=None)
        .filter(Q(lease_token=None) | Q(lease_expires_at__lt=now))
        .update(lease_token=token, lease_expires_at=now + timedelta(seconds=LEASE_SECONDS))
    )
    if not taken:
        expected = upload.offset
        upload.refresh_from_db(fields=["offset", "completed_at"])
        if upload.offset != expected or upload.is_complete:
            raise _offset_mismatch(upload)
        raise UploadLocked()
    return token


def _renewing(chunks: Iterable[bytes], upload: BackupUpload, token) -> Iterable[bytes]:
    """The chunks, renewing the lease every half lease while they flow."""
    renew_at = timezone.now() + timedelta(seconds=LEASE_SECONDS / 2)
    for chunk in chunks:
        yield chunk
        now = timezone.now()
        if now >= renew_at:
            BackupUpload.objects.filter(pk=upload.pk, lease_token=token).update(
                lease_expires_at=now + timedelta(seconds=LEASE_SECONDS)
            )
            renew_at = now + timedelta(seconds=LEASE_SECONDS / 2)


def _release_lease(upload: BackupUpload, token) -> None:
    BackupUpload.objects.filter(pk=upload.pk, lease_token=token).update(
        lease_token=None, lease_expires_at=None
    )
