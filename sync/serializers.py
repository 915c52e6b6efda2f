from rest_framework import serializers

from persona.serializers import DeviceIdField, StrictCharField, StrictIntegerField
from sync.models import MAX_SYNC_VERSION
from sync.services import RejectionCode


class SyncStatusSerializer(serializers.Serializer):
    device_id = serializers.CharField(read_only=True)
    sync_version = serializers.IntegerField(read_only=True)
    data_hash = serializers.CharField(read_only=True)
    last_sync_timestamp = serializers.DateTimeField(read_only=True, allow_null=True)
    synced_at = serializers.DateTimeField(read_only=True)
    is_active = serializers.BooleanField(read_only=True)


class SyncReportSerializer(serializers.Serializer):
    device_id = DeviceIdField()
    sync_version = StrictIntegerField(min_value=0, max_value=MAX_SYNC_VERSION)
    data_hash = StrictCharField(max_length=255)
    # The device's own clock, kept as sent: a wrong clock must not stop a device from syncing,
    # and the server orders devices by its own time (synced_at).
    last_sync_timestamp = serializers.DateTimeField(required=False, allow_null=True, default=None)


class SyncConflictSerializer(serializers.Serializer):
    """The shape of a 409 from POST /api/sync/status, for the API schema."""

    detail = serializers.CharField()
    code = serializers.ChoiceField(choices=RejectionCode.choices)
    device = SyncStatusSerializer()
