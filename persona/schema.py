"""OpenAPI pieces shared by every app: the error answers."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(required=False)


ERROR_DESCRIPTIONS = {
    400: "Invalid input: an object of field names to lists of messages, or `detail`.",
    401: "Missing, invalid, expired or revoked token, or wrong credentials.",
    404: "Not found (or not yours).",
    405: "Method not allowed.",
    409: "Conflict with the stored state.",
    413: "Payload too large.",
    429: "Rate-limited; see the Retry-After header.",
    503: "A backing service (database, cache) is unavailable; retry later.",
}


def errors(*statuses: int) -> dict:
    """Schema responses for the given error statuses."""
    return {
        status: OpenApiResponse(
            response=OpenApiTypes.OBJECT if status == 400 else ErrorSerializer,
            description=ERROR_DESCRIPTIONS[status],
        )
        for status in statuses
    }
