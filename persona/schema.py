"""OpenAPI pieces shared by every app: the error answers, response headers and example tokens."""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(required=False)


class ValidationErrorSerializer(serializers.Serializer):
    """The body of a 400 (see ValidationErrorSchema)."""


class ValidationErrorSchema(OpenApiSerializerExtension):
    """One named component for every 400, rather than an anonymous object per operation
    (which clients would turn into one class per operation)."""

    target_class = ValidationErrorSerializer

    def map_serializer(self, auto_schema, direction):
        return {
            "type": "object",
            "additionalProperties": {},
            "description": "Field names to lists of messages (`non_field_errors` for the body as "
            "a whole), or `detail` when the body is not JSON at all.",
        }


ERROR_DESCRIPTIONS = {
    400: "Invalid input: an object of field names to lists of messages, or `detail`.",
    401: "Missing, invalid, expired or revoked token, or wrong credentials.",
    403: "Over a limit of the account (`code` says which).",
    404: "Not found (or not yours).",
    405: "Method not allowed.",
    409: "Conflict with the stored state.",
    413: "The body is over the size limit (BACKUP_MAX_BYTES for an upload, 2.5 MiB otherwise).",
    429: "Rate-limited; see the Retry-After header.",
    503: "A backing service (database, cache) is unavailable; retry later.",
}


def errors(*statuses: int) -> dict:
    """Schema responses for the given error statuses."""
    return {
        status: OpenApiResponse(
            response=ValidationErrorSerializer if status == 400 else ErrorSerializer,
            description=ERROR_DESCRIPTIONS[status],
        )
        for status in statuses
    }


RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429],
    required=True,
    description="Seconds to wait before trying again.",
)

# Shaped like real tokens; they are not valid ones.
EXAMPLE_ACCESS = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjoxNzk1NjU1NjAwfQ"
    ".3q2-7wZl1mVYk0mC8Zr5R0pJr0eF4YlX2nU5t9bQvWc"
)
EXAMPLE_REFRESH = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCIsImV4cCI6MTc5ODI0NzYwMH0"
    ".Jk2pQ9sV7hYw4cXn1rT6uL0mB3eA8dZf5gK2iO7qNsE"
)


class HealthSerializer(serializers.Serializer):
    """The shape of GET /health, for the API schema."""

    status = serializers.ChoiceField(choices=["OK"])
    message = serializers.CharField()
    timestamp = serializers.DateTimeField()
    uptime = serializers.FloatField(help_text="Seconds since this process started.")


CHECK_RESULTS = ["ok", "error"]


class ReadinessChecksSerializer(serializers.Serializer):
    database = serializers.ChoiceField(choices=CHECK_RESULTS)
    cache = serializers.ChoiceField(choices=CHECK_RESULTS, required=False, help_text="Only with REDIS_URL.")


class ReadinessSerializer(serializers.Serializer):
    """The shape of GET /health/ready, for the API schema."""

    status = serializers.ChoiceField(choices=["ready", "unavailable"])
    checks = ReadinessChecksSerializer()


HEALTHY = OpenApiExample(
    "Healthy",
    value={
        "status": "OK",
        "message": "Persona Backend - Ultra-lightweight server",
        "timestamp": "2026-11-25T18:40:11.003+00:00",
        "uptime": 86400.125,
    },
    response_only=True,
)
READY = OpenApiExample(
    "Ready", value={"status": "ready", "checks": {"database": "ok", "cache": "ok"}}, response_only=True
)
UNAVAILABLE = OpenApiExample(
    "Database down",
    value={"status": "unavailable", "checks": {"database": "error", "cache": "ok"}},
    response_only=True,
    status_codes=["503"],
)
