"""A backup's payload as a download: streamed from storage a chunk at a time, resumable with
`Range` (one range; a client resuming asks for `bytes=<received>-`), its ETag the SHA-256.
With BACKUP_S3_PRESIGNED_SECONDS on S3, a redirect to a short-lived presigned URL instead.
"""

import itertools
import re

from django.conf import settings
from django.http import FileResponse, HttpResponse, HttpResponseRedirect, StreamingHttpResponse

from backups import storage
from backups.transfers import ReleasesSlotOnClose, TransferSlot

SINGLE_RANGE = re.compile(r"bytes=(\d*)-(\d*)\Z")


def payload_response(request, backup):
    etag = f'"{backup.checksum}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
        response["ETag"] = etag
        return response
    if settings.BACKUP_S3_PRESIGNED_SECONDS and storage.is_s3():
        return HttpResponseRedirect(storage.payload_url(backup.storage_key))

    size = backup.data_size
    wanted = _range(request, etag, size)
    if wanted == "unsatisfiable":
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end = wanted or (0, size)
    slot = TransferSlot(request.user.pk)
    try:
        response = _stream(backup.storage_key, start, end, size, slot=slot, status=206 if wanted else 200)
    except BaseException:
        slot.release()
        raise
    response["Content-Type"] = "application/octet-stream"
    response["Content-Length"] = str(end - start)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return response


def _stream(key: str, start: int, end: int, size: int, *, slot: TransferSlot, status: int):
    """The bytes from `start` to `end`. From a folder, to the end of the file, as an open file:
    the WSGI server then sends it with sendfile() (bench/README.md, "Backup transfers")."""
    if end == size and not storage.is_s3():
        file = storage.payload_open(key)
        file.seek(start)
        return PayloadFile(file, slot=slot, status=status)
    chunks = storage.payload_read(key, start, end)
    # The first read opens the object: a store that fails does so before any header is sent.
    first = next(chunks, b"")
    return PayloadStream(itertools.chain([first], chunks), slot=slot, status=status)


class PayloadFile(ReleasesSlotOnClose, FileResponse):
    """A payload file, sent within its transfer slot."""


class PayloadStream(ReleasesSlotOnClose, StreamingHttpResponse):
    """A streamed payload, sent within its transfer slot."""


def _range(request, etag: str, size: int):
    """(start, end) of the one byte range asked for, "unsatisfiable", or None for the whole
    payload: no Range, one this server does not serve (several ranges, other units; RFC 9110
    lets it send everything then), or an If-Range that names another version."""
    match = SINGLE_RANGE.match(request.headers.get("Range", ""))
    if match is None or request.headers.get("If-Range", etag) != etag:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        return (max(size - count, 0), size) if count else "unsatisfiable"
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size:
        return "unsatisfiable"
    if end <= start:
        return None
    return start, end
