"""Reading an upload's body with a bound, whatever framing the client chose.

DRF hands its own JSONParser `request.body`, which Django reads whole and refuses past
DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB) with a 400, and which is empty for a chunked body.
A parser that is not a JSONParser gets the raw stream instead and bounds it itself.
"""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from backups.exceptions import BackupTooLarge
from persona.parsers import json_loads

# Room for the JSON around the payload: keys, checksum, device_id, sync_version. The payload's
# own JSON text counts too, so \u-escaped characters use up the limit faster.
ENVELOPE_BYTES = 64 * 1024
JSON_ELSEWHERE = "inside a JSON body; larger ones use the uploads endpoint"


def body_limit() -> int:
    return settings.BACKUP_JSON_MAX_BYTES + ENVELOPE_BYTES


def is_chunked(request) -> bool:
    """A chunked body the WSGI server has already de-chunked and terminated (gunicorn does),
    so it can be read to its end; Django itself reads only bodies with a Content-Length."""
    meta = request.META
    return (
        "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
        and "CONTENT_LENGTH" not in meta
        and bool(meta.get("wsgi.input_terminated"))
    )


class BackupUploadParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = body_limit()
        declared = parser_context["request"].META.get("CONTENT_LENGTH") or "0"
        # An honest oversized Content-Length is refused before a byte of the body is read.
        if declared.isdigit() and int(declared) > limit:
            raise BackupTooLarge(settings.BACKUP_JSON_MAX_BYTES, JSON_ELSEWHERE)
        # One byte over the limit is enough to know; the rest is never read into memory.
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise BackupTooLarge(settings.BACKUP_JSON_MAX_BYTES, JSON_ELSEWHERE)
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = body.decode(encoding)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        del body  # the decoded text replaces the bytes rather than doubling them
        return json_loads(text)
