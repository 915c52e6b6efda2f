"""Examples for the backup endpoints in the OpenAPI schema."""

import hashlib

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from persona.schema import ErrorSerializer, errors

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


# Resumable uploads (tus 1.0, backups/tus.py): the protocol lives in headers.
def _header(name, description, *, response=None, required=False, type_=OpenApiTypes.STR):
    return OpenApiParameter(
        name,
        type_,
        OpenApiParameter.HEADER,
        description=description,
        response=response or False,
        required=required,
    )


TUS_RESUMABLE = OpenApiParameter(
    "Tus-Resumable",
    {"type": "string", "enum": ["1.0.0"]},
    OpenApiParameter.HEADER,
    required=True,
    description="The tus version: always `1.0.0` (else 412).",
)
UPLOAD_LENGTH = _header(
    "Upload-Length",
    "The payload's size in bytes (1 to BACKUP_MAX_BYTES).",
    required=True,
    type_=OpenApiTypes.INT,
)
UPLOAD_METADATA = _header(
    "Upload-Metadata",
    "Comma-separated `key base64(value)` pairs: `checksum` (required: SHA-256 hex of the whole "
    "payload), `device_id`, `sync_version`, `idempotency_key`; other keys are ignored.",
    required=True,
)
UPLOAD_OFFSET = _header(
    "Upload-Offset",
    "Where these bytes go: the upload's current offset (else 409).",
    required=True,
    type_=OpenApiTypes.INT,
)
UPLOAD_CHECKSUM = _header(
    "Upload-Checksum",
    "`sha256 <base64 digest of this request's body>`: a mismatch is a 460 and nothing is kept.",
)


def progress_headers(status: int) -> list[OpenApiParameter]:
    """The headers a successful tus answer carries."""
    return [
        _header("Tus-Resumable", "`1.0.0`", response=[status]),
        _header(
            "Upload-Offset", "Bytes received and stored so far.", response=[status], type_=OpenApiTypes.INT
        ),
        _header("Upload-Expires", "When an unfinished upload is deleted (HTTP date).", response=[status]),
        _header("Backup-Id", "Once the upload is complete: the backup it became.", response=[status]),
    ]


LOCATION_ANSWER = _header("Location", "The upload's URL, for HEAD, PATCH and DELETE.", response=[201])
RANGE = _header("Range", "`bytes=<first>-[<last>]` (one range) to resume a download: 206.")
ETAG_ANSWER = _header("ETag", "The payload's SHA-256, quoted.", response=[200, 206])

TUS_ERRORS = {
    410: "The upload expired; start a new one.",
    412: "Tus-Resumable is not 1.0.0.",
    413: "Over a limit: `backup_too_large` (BACKUP_MAX_BYTES), `quota_exceeded` (BACKUP_QUOTA_BYTES, "
    "with `limit` and `used`), or `past_length` (bytes past Upload-Length).",
    415: "PATCH bodies are application/offset+octet-stream.",
    423: "Another request is appending to this upload; retry shortly.",
    429: "`too_many_uploads` (BACKUP_UPLOADS_PER_USER unfinished uploads) or rate-limited.",
    460: "Checksum mismatch: the chunk's Upload-Checksum, or the whole payload's declared `checksum` "
    "(the upload is then deleted).",
}


def tus_errors(*statuses: int) -> dict:
    """Schema responses for tus's error statuses, beside the API's usual ones."""
    usual = [status for status in statuses if status not in TUS_ERRORS]
    return {
        **errors(*usual),
        **{
            status: OpenApiResponse(response=ErrorSerializer, description=TUS_ERRORS[status])
            for status in statuses
            if status in TUS_ERRORS
        },
    }


def add_upload_offset_operation(result, generator, request, public):
    """A drf-spectacular postprocessing hook: it leaves HEAD out of every path, but tus's
    HEAD (where to resume an upload) is the protocol's core, so it is added here, built from
    the PATCH beside it."""
    path = result["paths"].get("/api/sync/backup/uploads/{id}")
    if path is None or "patch" not in path:
        return result
    patch = path["patch"]
    answered = patch["responses"]["204"]
    path["head"] = {
        "operationId": "backup_upload_offset",
        "summary": "Where to resume an upload",
        "description": "`Upload-Offset` is where the next PATCH goes: the bytes received before a "
        "dropped connection are kept. A finished upload answers until it expires, with `Backup-Id`.",
        "parameters": [p for p in patch["parameters"] if p["name"] in ("id", "Tus-Resumable")],
        "tags": patch["tags"],
        "security": patch["security"],
        "responses": {
            "200": {
                "description": "Upload-Offset and Upload-Length.",
                "headers": {
                    **answered["headers"],
                    "Upload-Length": {"schema": {"type": "integer"}, "description": "The declared length."},
                },
            },
            **{code: patch["responses"][code] for code in ("401", "404", "410", "412", "503")},
        },
    }
    return result
