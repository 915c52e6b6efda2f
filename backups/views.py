from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, UnsupportedMediaType, ValidationError
from rest_framework.response import Response

from backups import downloads, services, storage
from backups.models import UserBackup
from backups.parsers import BackupUploadParser, is_chunked
from backups.schema import BACKUP, ETAG_ANSWER, METADATA, RANGE, TOO_LARGE, UPLOAD
from backups.serializers import (
    METADATA_FIELDS,
    BackupMetadataSerializer,
    BackupSerializer,
    BackupUploadSerializer,
)
from backups.transfers import ReleasesSlotOnClose, TransferSlot
from persona.exceptions import Conflict
from persona.ratelimit import rate_limit
from persona.schema import RETRY_AFTER, errors

IDEMPOTENCY_KEY_MAX_LENGTH = 255


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
    OpenApiParameter.HEADER,
    description="Makes a retried upload return the first answer instead of storing a duplicate; "
    "the same key with another payload is a 409.",
)


@extend_schema_view(
    create=extend_schema(
        operation_id="backup_upload",
        summary="Upload an encrypted backup",
        description="`checksum` is the SHA-256 hex of the UTF-8 bytes of `encrypted_data`: a "
        "mismatch or an empty payload is a 400, a payload over the server's limit a 413, and "
        "nothing is stored. Only the newest backups per user are kept (10 by default). A 409 "
        "(`code`) refuses a `sync_version` older than one stored (`stale_version`), an upload "
        "without one once a versioned backup is stored (`sync_version_required`), and an "
        "Idempotency-Key reused for another upload (`idempotency_key_reused`). Uploads are "
        "limited per user (20 an hour by default; 429 with `Retry-After`). Transfers in flight "
        "are bounded: 503 with `Retry-After` when the server runs its most at once, 429 when "
        "this account does.",
        request=BackupUploadSerializer,
        parameters=[IDEMPOTENCY_KEY, RETRY_AFTER],
        responses={201: BackupMetadataSerializer, **errors(400, 401, 409, 413, 429, 503)},
        examples=[UPLOAD, METADATA, TOO_LARGE],
    ),
    list=extend_schema(
        operation_id="backup_list",
        summary="The user's backups",
        description="Metadata only, newest first: payloads come from `latest` or one by id.",
        responses={200: BackupMetadataSerializer(many=True), **errors(400, 401, 503)},
        examples=[METADATA],
    ),
    retrieve=extend_schema(
        operation_id="backup_retrieve",
        summary="One backup, with its payload",
        description="Transfers in flight are bounded: 503 with `Retry-After` when the server "
        "runs its most at once, 429 when this account does.",
        parameters=[RETRY_AFTER],
        responses={200: BackupSerializer, **errors(401, 404, 429, 503)},
        examples=[BACKUP],
    ),
    destroy=extend_schema(
        operation_id="backup_delete",
        summary="Delete a backup",
        responses={204: OpenApiResponse(description="Deleted."), **errors(401, 404, 503)},
    ),
    download=extend_schema(
        operation_id="backup_download",
        summary="A backup's payload, as bytes",
        description="Streamed; `Range: bytes=<first>-` resumes an interrupted download (206, "
        "416 past the end), `If-None-Match` with the ETag is a 304. With "
        "BACKUP_S3_PRESIGNED_SECONDS on S3, a 302 to a short-lived presigned URL instead. "
        "Transfers in flight are bounded as for uploads.",
        parameters=[RANGE, ETAG_ANSWER, RETRY_AFTER],
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            (206, "application/octet-stream"): OpenApiTypes.BINARY,
            302: OpenApiResponse(description="To a presigned URL (S3 with BACKUP_S3_PRESIGNED_SECONDS)."),
            304: OpenApiResponse(description="Not modified."),
            416: OpenApiResponse(description="The range starts past the end."),
            **errors(401, 404, 429, 503),
        },
    ),
    latest=extend_schema(
        operation_id="backup_latest",
        summary="The newest backup, with its payload",
        description="404 when the user has no backup yet. Transfers in flight are bounded: 503 "
        "with `Retry-After` when the server runs its most at once, 429 when this account does.",
        parameters=[RETRY_AFTER],
        responses={200: BackupSerializer, **errors(401, 404, 429, 503)},
        examples=[BACKUP],
    ),
)
@extend_schema(tags=["backups"])
class BackupViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The signed-in user's encrypted backups. Only `latest` and one by id carry the payload."""

    parser_classes = (BackupUploadParser,)
    serializer_class = BackupMetadataSerializer

    def get_queryset(self):
        backups = UserBackup.objects.filter(user=self.request.user).order_by("-backup_date", "-id")
        if self.action == "list":
            # Rows with the metadata's attributes, not model instances (bench/README.md).
            return backups.values_list(*METADATA_FIELDS, named=True)
        return backups

    def get_serializer_class(self):
        if self.action in ("retrieve", "latest"):
            return BackupSerializer
        return BackupMetadataSerializer

    def create(self, request):
        # Counted before the body is read: a refused upload costs no memory or storage.
        rate_limit(request, group="backup-user", key=str(request.user.pk))
        slot = TransferSlot(request.user.pk)
        try:
            upload = BackupUploadSerializer(data=self._upload_data(request))
            upload.is_valid(raise_exception=True)
            backup, created = services.backup_create(
                user=request.user, idempotency_key=_idempotency_key(request), **upload.validated_data
            )
        finally:
            slot.release()
        # A retry gets the first answer again; the header tells it apart for the curious.
        headers = {} if created else {"Idempotent-Replayed": "true"}
        return Response(
            BackupMetadataSerializer(backup).data, status=status.HTTP_201_CREATED, headers=headers
        )

    def _upload_data(self, request):
        """The parsed body. DRF parses only a body with a Content-Length; a chunked one, which
        the WSGI server has de-chunked, goes through the same parser and bound here."""
        if not is_chunked(request):
            return request.data
        parser = self.get_content_negotiator().select_parser(request, self.get_parsers())
        if parser is None:
            raise UnsupportedMediaType(request.content_type)
        return parser.parse(request.META["wsgi.input"], parser.media_type, request.parser_context)

    def perform_destroy(self, instance):
        services.backup_delete(backup=instance)

    def retrieve(self, request, pk=None):
        return self._with_payload(self.get_object)

    @action(detail=False)
    def latest(self, request):
        def newest():
            backup = self.get_queryset().first()
            if backup is None:
                raise NotFound("There is no backup yet.")
            return backup

        return self._with_payload(newest)

    def _with_payload(self, find):
        """The backup with its payload inside the JSON, sent within a transfer slot that is
        held until the response has been written out (its JSON is built after the view
        returns). Only for payloads the JSON endpoints can carry: text, up to
        BACKUP_JSON_MAX_BYTES; the rest come from `download`."""
        slot = TransferSlot(self.request.user.pk)
        try:
            backup = find()
            if backup.data_size > settings.BACKUP_JSON_MAX_BYTES:
                raise DownloadRequired(backup, f"it is larger than {settings.BACKUP_JSON_MAX_BYTES} bytes")
            try:
                text = storage.payload_read_all(backup.storage_key).decode("utf-8")
            except UnicodeDecodeError:
                raise DownloadRequired(backup, "its bytes are not UTF-8 text") from None
            return PayloadResponse({**self.get_serializer(backup).data, "encrypted_data": text}, slot=slot)
        except BaseException:
            slot.release()
            raise

    @action(detail=True)
    def download(self, request, pk=None):
        backup = self.get_object()
        return downloads.payload_response(request, backup)


class DownloadRequired(Conflict):
    def __init__(self, backup, reason: str):
        super().__init__(
            {
                "detail": f"This backup cannot be sent inside JSON: {reason}. "
                f"Download it from /api/sync/backup/{backup.pk}/download.",
                "code": "download_required",
            }
        )


class PayloadResponse(ReleasesSlotOnClose, Response):
    """A backup with its payload, sent within its transfer slot."""


def _idempotency_key(request) -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return ""
    if not 0 < len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
        raise ValidationError(
            {"Idempotency-Key": [f"Must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters long."]}
        )
    return key
