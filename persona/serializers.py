"""Serializer fields shared by every app."""

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A JSON string only: DRF's CharField would quietly turn numbers into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: DRF's IntegerField also takes "7", 7.0 and true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


def validated_by(serializer: serializers.Serializer, data) -> dict:
    """The validated data of `data`, through a serializer instance built once and shared.

    Building a serializer's fields for every request was a tenth of a sync report's CPU,
    and run_validation() keeps no state, so valid data goes through the shared instance.
    Invalid data goes through a fresh instance's is_valid(), so errors read exactly as DRF
    writes them.
    """
    try:
        return serializer.run_validation(data)
    except serializers.ValidationError:
        fresh = type(serializer)(data=data)
        fresh.is_valid(raise_exception=True)
        return fresh.validated_data
