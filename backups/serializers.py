from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backups.models import UserBackup
from persona.serializers import DeviceIdField, StrictCharField, StrictIntegerField

METADATA_FIELDS = ["id", "backup_date", "data_size", "checksum", "device_id", "sync_version"]


@extend_schema_field({"type": "string", "minLength": 1, "pattern": "^[^\\u0000]*$"})
class PayloadField(serializers.Field):
    """An opaque non-empty string, passed through untouched.

    Not a CharField: its per-character surrogate check costs about a second per 10 MiB;
    a payload that is not valid Unicode fails when the service encodes it instead.
    """

    default_error_messages = {
        "invalid": "Not a valid string.",
        "blank": "This field may not be blank.",
        "null_characters": "Null characters are not allowed.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if not data:
            self.fail("blank")
        if "\x00" in data:
            self.fail("null_characters")
        return data

    def to_representation(self, value):
        return value


class BackupUploadSerializer(serializers.Serializer):
    encrypted_data = PayloadField()
    checksum = StrictCharField(
        validators=[RegexValidator(r"^[0-9a-fA-F]{64}\Z", "Must be 64 hexadecimal characters (SHA-256).")]
    )
    device_id = DeviceIdField(required=False, default="", allow_blank=True)
    sync_version = StrictIntegerField(
        min_value=0, max_value=2**63 - 1, required=False, allow_null=True, default=None
    )


class BackupMetadataSerializer(serializers.ModelSerializer):
    class Meta:
        model = UserBackup
        fields = METADATA_FIELDS
        read_only_fields = fields

    def to_representation(self, backup):
        # The JSON the fields above give (a test holds the two equal), built directly: DRF's
        # field-by-field machinery was most of the CPU of listing 100 backups (bench/README.md).
        return {
            "id": str(backup.id),
            "backup_date": _datetime.to_representation(backup.backup_date),
            "data_size": backup.data_size,
            "checksum": backup.checksum,
            "device_id": backup.device_id,
            "sync_version": backup.sync_version,
        }


# Stateless, so one instance formats every backup's date.
_datetime = serializers.DateTimeField()


class BackupSerializer(BackupMetadataSerializer):
    """The metadata and the payload as text; the view adds `encrypted_data`, read from storage."""

    encrypted_data = PayloadField(read_only=True)

    class Meta:
        model = UserBackup
        fields = [*METADATA_FIELDS, "encrypted_data"]
        read_only_fields = fields
