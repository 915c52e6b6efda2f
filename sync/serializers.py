from datetime import timedelta

from django.core.validators import RegexValidator
from django.utils import timezone
from rest_framework import serializers

from persona.serializers import StrictCharField, StrictIntegerField
from sync.models import MAX_SYNC_VERSION

# Device clocks drift, but a claim further ahead than this is a broken clock or a bug.
MAX_CLOCK_AHEAD = timedelta(days=1)


# Declared field by field: a ModelSerializer builds its fields from the model on every use,
# which was a fifth of a sync report's CPU (bench/).
class SyncStatusSerializer(serializers.Serializer):
    device_id = serializers.CharField(read_only=True)
    sync_version = serializers.IntegerField(read_only=True)
    data_hash = serializers.CharField(read_only=True)
    last_sync_timestamp = serializers.DateTimeField(read_only=True, allow_null=True)
    synced_at = serializers.DateTimeField(read_only=True)
    is_active = serializers.BooleanField(read_only=True)


class SyncReportSerializer(serializers.Serializer):
    device_id = StrictCharField(
        max_length=255,
        # The device is addressed as /api/sync/status/<device_id>.
        validators=[RegexValidator(r"^[^/]*\Z", message="A device id cannot contain '/'.")],
    )
    sync_version = StrictIntegerField(min_value=0, max_value=MAX_SYNC_VERSION)
    data_hash = StrictCharField(max_length=255)
    last_sync_timestamp = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_last_sync_timestamp(self, value):
        if value is not None and value > timezone.now() + MAX_CLOCK_AHEAD:
            raise serializers.ValidationError("This timestamp is more than a day in the future.")
        return value


SYNC_CONFLICT_CODES = ["stale_version", "sync_conflict"]


class SyncConflictSerializer(serializers.Serializer):
    """The shape of a 409 from POST /api/sync/status, for the API schema."""

    detail = serializers.CharField()
    code = serializers.ChoiceField(choices=SYNC_CONFLICT_CODES)
    device = SyncStatusSerializer()
