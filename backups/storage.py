"""Where backup payloads live: the "backups" storage of STORAGES, a folder by default, an
S3-compatible bucket in production (django-storages).

Django's Storage API saves and opens whole files. Backups also need what it does not offer:
reading a byte range as a stream, and an upload that grows piece by piece over several
requests (and app instances) before it becomes a file. Those few operations are written once
per kind of storage here; the rest of the app calls the functions of this module only.

Keys: a backup's payload is `backups/<user id>/<backup id>`; an unfinished upload on the
filesystem is `uploads/<upload id>` (on S3 it is a multipart upload of its final key, plus at
most one small `uploads/<upload id>/pending-<n>` object: S3 parts other than the last must
hold at least 5 MiB, while tus clients send pieces of any size).
"""

import hashlib
import os
import posixpath
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages

from backups.exceptions import PayloadNotMoved

# Bytes read from or written to storage at a time.
CHUNK_BYTES = 1024 * 1024
# An S3 multipart part (S3's minimum is 5 MiB, except for the last part). Held in memory
# while it fills, so it bounds what an upload costs a worker.
PART_BYTES = 8 * 1024 * 1024


def payload_storage():
    return storages["backups"]


def backup_key(user_id, backup_id) -> str:
    return f"backups/{user_id}/{backup_id}"


def is_s3() -> bool:
    """The two kinds of storage backups support: a folder, or an S3 bucket (asked without
    importing boto3, which a folder does not need)."""
    return not isinstance(payload_storage(), FileSystemStorage)


def payload_save(key: str, data: bytes) -> None:
    payload_storage().save(key, ContentFile(data))


def payload_read(key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The payload's bytes from `start` to `end` (exclusive; None: to the end), in chunks."""
    if not key:
        raise PayloadNotMoved()
    if end is not None and end <= start:
        return iter(())
    if is_s3():
        return _s3_read(key, start, end)
    return _file_read(payload_storage().path(key), start, end)


def payload_open(key: str):
    """The payload as an open binary file (folder storage only)."""
    if not key:
        raise PayloadNotMoved()
    return open(payload_storage().path(key), "rb")


def payload_read_all(key: str) -> bytes:
    return b"".join(payload_read(key))


def payload_sha256(key: str) -> str:
    digest = hashlib.sha256()
    for chunk in payload_read(key):
        digest.update(chunk)
    return digest.hexdigest()


def payload_delete(key: str) -> None:
    """Deletes the payload; one that is not there is fine (deleting is retried)."""
    payload_storage().delete(key)


def payload_url(key: str) -> str:
    """A short-lived presigned URL (S3 only)."""
    return payload_storage().url(key)


def stored_keys(prefix: str) -> Iterator[str]:
    """Every key under `prefix` ("backups/" or "uploads/")."""
    return (key for key, _ in stored_objects(prefix))


def stored_objects(prefix: str) -> Iterator[tuple[str, datetime]]:
    """(key, last modified) of every object under `prefix`, for finding orphans."""
    storage = payload_storage()
    if is_s3():
        base = storage.location.rstrip("/") + "/" if storage.location else ""
        for summary in storage.bucket.objects.filter(Prefix=base + prefix):
            yield summary.key[len(base) :], summary.last_modified
        return
    for directory, _, files in os.walk(storage.path(prefix)):
        for name in files:
            path = os.path.join(directory, name)
            key = os.path.relpath(path, storage.location).replace(os.sep, "/")
            yield key, datetime.fromtimestamp(os.path.getmtime(path), tz=UTC)


def multipart_uploads() -> Iterator[tuple[str, str, datetime]]:
    """(key, upload id, started) of the S3 multipart uploads in progress under the storage's
    prefix (none on the filesystem)."""
    if not is_s3():
        return
    storage = payload_storage()
    base = storage.location.rstrip("/") + "/" if storage.location else ""
    for upload in storage.bucket.multipart_uploads.filter(Prefix=base + "backups/"):
        yield upload.object_key[len(base) :], upload.id, upload.initiated


def multipart_abort(key: str, upload_id: str) -> None:
    storage = payload_storage()
    storage.connection.meta.client.abort_multipart_upload(
        Bucket=storage.bucket_name, Key=_s3_name(key), UploadId=upload_id
    )


def _file_read(path: str, start: int, end: int | None) -> Iterator[bytes]:
    with open(path, "rb") as file:
        file.seek(start)
        remaining = None if end is None else end - start
        while remaining is None or remaining > 0:
            chunk = file.read(CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining))
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


def _s3_read(key: str, start: int, end: int | None) -> Iterator[bytes]:
    storage = payload_storage()
    request = {}
    if start or end is not None:
        request["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
    body = storage.bucket.Object(_s3_name(key)).get(**request)["Body"]
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    finally:
        body.close()


# Unfinished uploads -----------------------------------------------------------------------


def upload_start(upload) -> None:
    """Prepares storage for `upload`'s bytes; fills upload.storage_state (not saved)."""
    if is_s3():
        storage = payload_storage()
        answer = storage.connection.meta.client.create_multipart_upload(
            Bucket=storage.bucket_name, Key=_s3_name(_final_key(upload))
        )
        upload.storage_state = {"multipart_id": answer["UploadId"], "parts": [], "pending": None}
        return
    path = payload_storage().path(_partial_key(upload))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").close()
    upload.storage_state = {}


def upload_append(upload, chunks: Iterable[bytes]) -> int:
    """Stores `chunks` after the upload's first upload.offset bytes and returns how many were
    stored. Nothing counts until the caller saves upload.offset and upload.storage_state: an
    append that is not saved is overwritten by the next one."""
    if is_s3():
        return _s3_append(upload, chunks, last=False)
    path = payload_storage().path(_partial_key(upload))
    written = 0
    with open(path, "r+b") as file:
        file.seek(upload.offset)
        file.truncate()
        for chunk in chunks:
            file.write(chunk)
            written += len(chunk)
        file.flush()
        os.fsync(file.fileno())
    return written


def upload_complete(upload) -> str:
    """Makes the upload's bytes the payload at its final key, and returns that key."""
    key = _final_key(upload)
    storage = payload_storage()
    if is_s3():
        appended = upload.storage_state
        # The remainder kept from the appends becomes the last part.
        _s3_append(upload, (), last=True)
        state = upload.storage_state
        storage.connection.meta.client.complete_multipart_upload(
            Bucket=storage.bucket_name,
            Key=_s3_name(key),
            UploadId=state["multipart_id"],
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in state["parts"]]},
        )
        _s3_drop_pending(appended)
        return key
    final = storage.path(key)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    os.replace(storage.path(_partial_key(upload)), final)
    return key


def upload_abort(upload) -> None:
    """Throws away an unfinished upload's bytes; fine if they are gone already."""
    storage = payload_storage()
    if is_s3():
        from botocore.exceptions import ClientError

        state = upload.storage_state
        if state.get("multipart_id"):
            try:
                storage.connection.meta.client.abort_multipart_upload(
                    Bucket=storage.bucket_name,
                    Key=_s3_name(_final_key(upload)),
                    UploadId=state["multipart_id"],
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "NoSuchUpload":
                    raise
        _s3_drop_pending(state)
        return
    storage.delete(_partial_key(upload))


def upload_forget(*, kept: dict, dropped: dict) -> None:
    """Deletes what storage state `dropped` holds that `kept` (the saved one) does not: the
    pending object of an append that was saved over, or of one that was refused."""
    pending = dropped.get("pending")
    if pending and pending != kept.get("pending"):
        payload_delete(pending["key"])


def _final_key(upload) -> str:
    return backup_key(upload.user_id, upload.id)


def _partial_key(upload) -> str:
    return f"uploads/{upload.id}"


def _s3_name(key: str) -> str:
    """The object's name in the bucket: the key under the storage's `location` prefix."""
    location = payload_storage().location
    return posixpath.join(location, key) if location else key


def _s3_append(upload, chunks: Iterable[bytes], *, last: bool) -> int:
    """Fills PART_BYTES parts from the bytes kept from the previous append (the pending
    object) and the new ones, and keeps the remainder as the new pending object."""
    storage = payload_storage()
    client = storage.connection.meta.client
    state = upload.storage_state
    parts = list(state["parts"])
    pending = state["pending"]
    written = 0
    with tempfile.SpooledTemporaryFile(max_size=PART_BYTES + CHUNK_BYTES) as part:
        if pending:
            for chunk in payload_read(pending["key"]):
                part.write(chunk)

        def send_part():
            size = part.tell()
            part.seek(0)
            number = len(parts) + 1
            answer = client.upload_part(
                Bucket=storage.bucket_name,
                Key=_s3_name(_final_key(upload)),
                UploadId=state["multipart_id"],
                PartNumber=number,
                Body=part,
                ContentLength=size,
            )
            parts.append([number, answer["ETag"]])
            part.seek(0)
            part.truncate()

        for chunk in chunks:
            part.write(chunk)
            written += len(chunk)
            if part.tell() >= PART_BYTES:
                send_part()
        remainder = part.tell()
        new_pending = None
        if remainder and last:
            send_part()
        elif remainder:
            # Named by the part it will start, so it never overwrites the pending object the
            # saved state still points at.
            key = f"uploads/{upload.id}/pending-{len(parts) + 1}-{upload.offset + written}"
            part.seek(0)
            payload_storage().save(key, part)
            new_pending = {"key": key, "size": remainder}
    upload.storage_state = {**state, "parts": parts, "pending": new_pending}
    return written


def _s3_drop_pending(state: dict) -> None:
    if state.get("pending"):
        payload_delete(state["pending"]["key"])
