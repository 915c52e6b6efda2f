"""The tus 1.0 protocol (https://tus.io/protocols/resumable-upload) for backup uploads:
core, creation, creation-with-upload, checksum (sha256), termination and expiration.

    POST   /api/sync/backup/uploads        Upload-Length + Upload-Metadata -> 201 Location
    HEAD   /api/sync/backup/uploads/<id>   -> Upload-Offset: where to resume
    PATCH  /api/sync/backup/uploads/<id>   Upload-Offset + bytes -> 204 Upload-Offset
    DELETE /api/sync/backup/uploads/<id>   -> 204, the bytes so far are gone
    OPTIONS /api/sync/backup/uploads       -> the version, extensions and limits

The rules (limits, quota, what becomes a backup) are in backups.uploads; this module reads
the headers and the body and answers in tus's terms. Errors are the API's usual JSON.

Written here rather than taken from PyPI: django-tus does not run on Django 5.2, and drf-tus
2.0.3 reads Upload-Checksum as hex (tus says base64), answers OPTIONS with JSON, and has no
creation-with-upload, expiry or per-user ownership.
"""

import base64
import binascii
import hashlib

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ParseError, UnsupportedMediaType, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from backups import uploads
from backups.models import BackupUpload
from backups.parsers import is_chunked
from backups.schema import (
    LOCATION_ANSWER,
    TUS_RESUMABLE,
    UPLOAD_CHECKSUM,
    UPLOAD_LENGTH,
    UPLOAD_METADATA,
    UPLOAD_OFFSET,
    progress_headers,
    tus_errors,
)
from backups.transfers import TransferSlot
from persona.ratelimit import rate_limit
from persona.serializers import DeviceIdField

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
OFFSET_STREAM = "application/offset+octet-stream"
READ_BYTES = 256 * 1024


class TusVersionUnsupported(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = f"Send Tus-Resumable: {TUS_VERSION}, the tus version this server speaks."
    default_code = "tus_version_unsupported"


class UploadMetadataSerializer(serializers.Serializer):
    """What Upload-Metadata may carry; keys a client adds for itself (filename, ...) are
    ignored."""

    checksum = serializers.RegexField(
        r"^[0-9a-fA-F]{64}\Z", error_messages={"invalid": "Must be 64 hexadecimal characters (SHA-256)."}
    )
    device_id = DeviceIdField(required=False, default="", allow_blank=True)
    sync_version = serializers.IntegerField(min_value=0, max_value=2**63 - 1, required=False, default=None)
    idempotency_key = serializers.CharField(required=False, default="", min_length=1, max_length=255)


class TusView(APIView):
    """What every tus endpoint shares: the version check and the Tus-Resumable header."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication first: no token is a 401
        if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != TUS_VERSION:
            raise TusVersionUnsupported()

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = TUS_VERSION
        if response.status_code == status.HTTP_412_PRECONDITION_FAILED:
            response["Tus-Version"] = TUS_VERSION
        return response


BYTES = {OFFSET_STREAM: OpenApiTypes.BINARY}


@extend_schema(tags=["backups"])
class UploadListView(TusView):
    def get_permissions(self):
        # Clients (and browsers' preflights) ask what the server speaks before signing in.
        return [] if self.request.method == "OPTIONS" else super().get_permissions()

    @extend_schema(
        operation_id="backup_uploads_options",
        summary="What the upload endpoint speaks (tus discovery)",
        auth=[],
        responses={
            204: OpenApiResponse(
                description="Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm."
            )
        },
    )
    def options(self, request):
        return Response(
            status=status.HTTP_204_NO_CONTENT,
            headers={
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": EXTENSIONS,
                "Tus-Max-Size": str(settings.BACKUP_MAX_BYTES),
                "Tus-Checksum-Algorithm": "sha256",
            },
        )

    @extend_schema(
        operation_id="backup_upload_create",
        summary="Start a resumable upload (tus creation)",
        description="Declares the payload's length and checksum; every limit is checked here, before "
        "a byte is sent. A body (application/offset+octet-stream) sends the first bytes at once "
        "(creation-with-upload). The same `idempotency_key` with the same declaration answers "
        "with the first upload's Location again.",
        request=BYTES,
        parameters=[
            TUS_RESUMABLE,
            UPLOAD_LENGTH,
            UPLOAD_METADATA,
            UPLOAD_CHECKSUM,
            LOCATION_ANSWER,
            *progress_headers(201),
        ],
        responses={
            201: OpenApiResponse(description="Created; Location names it."),
            **tus_errors(400, 401, 409, 412, 413, 429, 460, 503),
        },
    )
    def post(self, request):
        rate_limit(request, group="backup-user", key=str(request.user.pk))
        length = _length_header(request, "Upload-Length")
        if length is None:
            raise ValidationError(
                {"Upload-Length": ["This header is required (tus's deferred length is not supported)."]}
            )
        if length == 0:
            raise ValidationError({"Upload-Length": ["A backup holds at least one byte."]})
        metadata = UploadMetadataSerializer(data=_metadata(request.headers.get("Upload-Metadata", "")))
        metadata.is_valid(raise_exception=True)
        body = _body_or_none(request)
        if body is not None and request.content_type != OFFSET_STREAM:
            raise UnsupportedMediaType(request.content_type, f"Send the first bytes as {OFFSET_STREAM}.")
        upload, created = uploads.upload_create(user=request.user, length=length, **metadata.validated_data)
        if body is not None and created and not upload.is_complete:
            upload = _append(request, upload, offset=0, body=body)
        headers = _progress_headers(upload)
        headers["Location"] = request.build_absolute_uri(reverse("backup-upload", args=[upload.pk]))
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return Response(status=status.HTTP_201_CREATED, headers=headers)


@extend_schema(tags=["backups"])
class UploadDetailView(TusView):
    def get_object(self, pk) -> BackupUpload:
        return get_object_or_404(BackupUpload.objects.filter(user=self.request.user), pk=pk)

    # In the schema through backups.schema.add_upload_offset_operation.
    def head(self, request, pk):
        upload = self.get_object(pk)
        if not upload.is_complete and _expired(upload):
            raise uploads.UploadGone()
        headers = {
            **_progress_headers(upload),
            "Upload-Length": str(upload.length),
            "Cache-Control": "no-store",
        }
        return Response(status=status.HTTP_200_OK, headers=headers)

    @extend_schema(
        operation_id="backup_upload_append",
        summary="Append bytes to an upload",
        description="The bytes at Upload-Offset. The last ones make the upload a backup: its SHA-256 "
        "must be the declared `checksum` (else 460 and the upload is deleted), and the backup rules "
        "apply (409 `stale_version`, 413 `quota_exceeded`).",
        request=BYTES,
        parameters=[TUS_RESUMABLE, UPLOAD_OFFSET, UPLOAD_CHECKSUM, *progress_headers(204)],
        responses={
            204: OpenApiResponse(description="Stored; Upload-Offset is the new offset."),
            **tus_errors(400, 401, 404, 409, 410, 412, 413, 415, 423, 429, 460, 503),
        },
    )
    def patch(self, request, pk):
        upload = self.get_object(pk)
        if request.content_type != OFFSET_STREAM:
            raise UnsupportedMediaType(request.content_type, f"Send the bytes as {OFFSET_STREAM}.")
        offset = _length_header(request, "Upload-Offset")
        if offset is None:
            raise ValidationError({"Upload-Offset": ["This header is required."]})
        body = _body_or_none(request) or RequestBody.empty()
        upload = _append(request, upload, offset=offset, body=body)
        return Response(status=status.HTTP_204_NO_CONTENT, headers=_progress_headers(upload))

    @extend_schema(
        operation_id="backup_upload_cancel",
        summary="Cancel an upload (tus termination)",
        description="Deletes the upload and the bytes received; a finished upload's backup stays.",
        parameters=[TUS_RESUMABLE],
        responses={204: OpenApiResponse(description="Cancelled."), **tus_errors(401, 404, 412, 503)},
    )
    def delete(self, request, pk):
        uploads.upload_cancel(upload=self.get_object(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RequestBody:
    """A request's bytes as chunks, read as they arrive and hashed on the way."""

    def __init__(self, stream, length: int | None, checksum: bytes | None):
        self.stream = stream
        self.length = length  # None: chunked, read to the end
        self.expected = checksum
        # Only to check Upload-Checksum: the upload's own digest is kept by backups.uploads.
        self.digest = hashlib.sha256() if checksum is not None else None
        self.received = 0
        self.ended_early = False
        self.too_long = False
        self.limit = None

    @classmethod
    def empty(cls):
        return cls(None, 0, None)

    def chunks(self):
        while self.length is None or self.received < self.length:
            want = READ_BYTES if self.length is None else min(READ_BYTES, self.length - self.received)
            try:
                chunk = self.stream.read(want)
            except OSError:  # the client went away
                chunk = b""
            if not chunk:
                self.ended_early = self.length is not None
                return
            if self.limit is not None and self.received + len(chunk) > self.limit:
                self.too_long = True
                return
            self.received += len(chunk)
            if self.digest is not None:
                self.digest.update(chunk)
            yield chunk

    def checksum_matches(self) -> bool:
        return self.digest is None or self.digest.digest() == self.expected

    def acceptable(self) -> bool:
        """Whether the bytes received may be kept: with Upload-Checksum only a whole body
        that matches it; without, whatever arrived before the client went away."""
        if self.too_long:
            return False
        if self.expected is not None:
            return not self.ended_early and self.checksum_matches()
        return True


def _append(request, upload: BackupUpload, *, offset: int, body: RequestBody) -> BackupUpload:
    uploads.upload_check_offset(upload, offset)
    if body.length is not None and offset + body.length > upload.length:
        raise _past_length(upload)
    body.limit = upload.length - offset
    slot = TransferSlot(request.user.pk)
    try:
        upload = uploads.upload_append(
            upload=upload,
            offset=offset,
            chunks=body.chunks(),
            verify=body.acceptable,
        )
    finally:
        slot.release()
    if body.too_long:
        raise _past_length(upload)
    if not body.checksum_matches() and not body.ended_early:
        raise uploads.ChecksumMismatch(
            {
                "detail": "The bytes do not match Upload-Checksum; they were not stored.",
                "code": "checksum_mismatch",
            }
        )
    if body.ended_early:
        raise ParseError("The request ended before Content-Length bytes arrived; resume from Upload-Offset.")
    return upload


def _body_or_none(request) -> RequestBody | None:
    """The body of a request that sends upload bytes, or None when it sends none."""
    checksum = _checksum_header(request)
    declared = _length_header(request, "Content-Length")
    if declared:
        return RequestBody(request._request, declared, checksum)
    if is_chunked(request):
        return RequestBody(request.META["wsgi.input"], None, checksum)
    return None


def _length_header(request, name: str) -> int | None:
    value = request.headers.get(name)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 19:
        raise ValidationError({name: ["Must be a non-negative integer."]})
    return int(value)


def _checksum_header(request) -> bytes | None:
    value = request.headers.get("Upload-Checksum")
    if value is None:
        return None
    algorithm, _, encoded = value.partition(" ")
    if algorithm != "sha256":
        raise ValidationError({"Upload-Checksum": ["Only sha256 is supported (Tus-Checksum-Algorithm)."]})
    try:
        digest = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != 32:
        raise ValidationError({"Upload-Checksum": ["Must be `sha256 <base64 of the 32-byte digest>`."]})
    return digest


def _metadata(header: str) -> dict:
    """Upload-Metadata: comma-separated `key base64(value)` pairs."""
    pairs = {}
    for item in filter(None, (part.strip() for part in header.split(","))):
        key, _, encoded = item.partition(" ")
        if key in pairs:
            raise ValidationError({"Upload-Metadata": [f"{key!r} appears twice."]})
        try:
            pairs[key] = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ValidationError({"Upload-Metadata": [f"{key!r} is not base64 of UTF-8 text."]}) from None
    return pairs


def _progress_headers(upload: BackupUpload) -> dict:
    headers = {"Upload-Offset": str(upload.offset)}
    if upload.is_complete:
        headers["Backup-Id"] = str(upload.backup_id) if upload.backup_id else ""
    else:
        headers["Upload-Expires"] = http_date(upload.expires_at.timestamp())
    return headers


def _expired(upload: BackupUpload) -> bool:
    return upload.expires_at <= timezone.now()


class PastLength(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "past_length"


def _past_length(upload: BackupUpload) -> PastLength:
    return PastLength(
        {
            "detail": f"The upload is {upload.length} bytes long; these bytes would go past its end.",
            "code": "past_length",
        }
    )
