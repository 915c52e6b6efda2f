from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from sync import services
from sync.serializers import SyncReportSerializer, SyncStatusSerializer


class SyncStatusViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The signed-in user's devices: report a device's data version, list, show, deactivate."""

    serializer_class = SyncStatusSerializer
    lookup_field = "device_id"
    # Device ids are the app's own strings (dots, dashes, ...); only a slash cannot be in a path.
    lookup_value_regex = "[^/]{1,255}"

    def get_queryset(self):
        return self.request.user.sync_statuses.order_by("-synced_at", "device_id")

    def get_object(self):
        # DRF's own 404 would name the model; every 404 of the API just says "Not found."
        device = self.get_queryset().filter(device_id=self.kwargs["device_id"]).first()
        if device is None:
            raise NotFound()
        return device

    def create(self, request):
        report = SyncReportSerializer(data=request.data)
        report.is_valid(raise_exception=True)
        try:
            device, created = services.sync_status_report(user=request.user, **report.validated_data)
        except services.SyncRejected as rejection:
            return Response(
                {
                    "detail": rejection.detail,
                    "code": rejection.code,
                    "device": SyncStatusSerializer(rejection.device).data,
                },
                status=status.HTTP_409_CONFLICT,
            )
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(SyncStatusSerializer(device).data, status=answer)

    def destroy(self, request, device_id):
        services.sync_status_deactivate(user=request.user, device_id=device_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
