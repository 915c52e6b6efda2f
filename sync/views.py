from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from persona.schema import errors
from persona.serializers import DEVICE_ID_PATH
from sync import services
from sync.schema import DEVICE, DEVICES, REPORT, STALE
from sync.serializers import SyncConflictSerializer, SyncReportSerializer, SyncStatusSerializer

# One serializer of each kind serves every sync request: building a serializer's fields for
# each request cost the sync routes throughput that counts (bench/README.md). Neither keeps
# state between calls: run_validation() and to_representation() are DRF's field API.
REPORT_SERIALIZER = SyncReportSerializer()
DEVICE_SERIALIZER = SyncStatusSerializer()


@extend_schema_view(
    create=extend_schema(
        operation_id="sync_status_report",
        summary="Report a device's data version",
        description="Stores the device's `sync_version` and `data_hash`. An older version than "
        "the stored one, or the same version with another hash, is a 409 with the stored row "
        "(`code` says which); the same version and hash again is an idempotent retry (200). A "
        "new or reactivated device beyond the account's active-device limit (100) is a 403 "
        "(`too_many_devices`).",
        request=SyncReportSerializer,
        responses={
            200: OpenApiResponse(SyncStatusSerializer, description="Stored, or an idempotent retry."),
            201: OpenApiResponse(SyncStatusSerializer, description="The device's first report."),
            409: OpenApiResponse(
                SyncConflictSerializer, description="Older version, or same version with another hash."
            ),
            **errors(400, 401, 403, 413, 503),
        },
        examples=[REPORT, DEVICE, STALE],
    ),
    list=extend_schema(
        operation_id="sync_status_list",
        summary="The user's devices",
        description="Every device of the user, deactivated ones too, most recently synced first.",
        responses={200: SyncStatusSerializer(many=True), **errors(400, 401, 503)},
        examples=[DEVICES],
    ),
    retrieve=extend_schema(
        operation_id="sync_status_retrieve",
        summary="One device",
        responses={200: SyncStatusSerializer, **errors(401, 404, 503)},
        examples=[DEVICE],
    ),
    destroy=extend_schema(
        operation_id="sync_status_deactivate",
        summary="Deactivate a device",
        description="The device no longer counts in `device_count`, and the tokens bound to it "
        "are signed out. Its next report reactivates it.",
        responses={204: OpenApiResponse(description="Deactivated and signed out."), **errors(401, 404, 503)},
    ),
)
@extend_schema(tags=["sync"])
class SyncStatusViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The signed-in user's devices: report a device's data version, list, show, deactivate."""

    serializer_class = SyncStatusSerializer
    lookup_field = "device_id"
    lookup_value_regex = DEVICE_ID_PATH

    def get_queryset(self):
        return self.request.user.sync_statuses.order_by("-synced_at", "device_id")

    def create(self, request):
        try:
            report = REPORT_SERIALIZER.run_validation(request.data)
        except ValidationError:
            # A report of its own words the errors as is_valid() does (a null body included).
            SyncReportSerializer(data=request.data).is_valid(raise_exception=True)
            raise
        try:
            device, created = services.sync_status_report(user=request.user, **report)
        except services.SyncRejected as rejection:
            return Response(
                {
                    "detail": rejection.detail,
                    "code": rejection.code,
                    "device": DEVICE_SERIALIZER.to_representation(rejection.device),
                },
                status=status.HTTP_409_CONFLICT,
            )
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(DEVICE_SERIALIZER.to_representation(device), status=answer)

    def retrieve(self, request, device_id):
        return Response(DEVICE_SERIALIZER.to_representation(self.get_object()))

    def destroy(self, request, device_id):
        services.sync_status_deactivate(user=request.user, device_id=device_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
