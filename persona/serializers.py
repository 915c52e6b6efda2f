"""Serializer fields shared by every app."""

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from rest_framework import serializers

# The characters Python's str.isspace() (and so DRF's trimming) counts as whitespace, spelled
# out: a schema's `\s` means fewer of them to a JSON Schema validator than to Python.
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


class TextValidator(RegexValidator):
    """No NUL characters and, unless blank is allowed, something besides whitespace; then the
    `regex` of a field with stricter rules.

    DRF refuses NULs and blanks already; as a RegexValidator the rule also becomes the field's
    `pattern` in the API schema, so clients and fuzzers know what is refused.
    """

    def __init__(self, regex=None, message="This field may not be blank.", *, allow_blank=False):
        if regex is None:
            regex = r"^[^\x00]*\Z" if allow_blank else rf"^[^\x00]*[^{WHITESPACE}\x00][^\x00]*\Z"
        super().__init__(regex, message=message)
        self.allow_blank = allow_blank

    def __call__(self, value):
        value = str(value)
        if "\x00" in value:
            raise ValidationError("Null characters are not allowed.", code="null_characters_not_allowed")
        if not self.allow_blank and not value.strip():
            raise ValidationError("This field may not be blank.", code="blank")
        super().__call__(value)


class StrictCharField(serializers.CharField):
    """A JSON string only: DRF's CharField would quietly turn numbers into text."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # DRF's NUL check becomes a TextValidator, unless the field was given one of its own.
        text_validators = [v for v in self.validators if isinstance(v, TextValidator)]
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator | TextValidator)
        ] + (text_validators or [TextValidator(allow_blank=self.allow_blank)])

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# Device ids are the app's own strings, addressed as /api/sync/status/<device_id>: no '/', no
# control characters, and no whitespace at either end (which would make two ids look alike).
DEVICE_ID_PATH = r"[^/\x00-\x1f\x7f-\x9f]{1,255}"
DEVICE_ID = TextValidator(
    rf"^[^{WHITESPACE}/\x00-\x1f\x7f-\x9f]([^/\x00-\x1f\x7f-\x9f]*[^{WHITESPACE}/\x00-\x1f\x7f-\x9f])?\Z",
    message="A device id cannot contain '/' or control characters, nor start or end with whitespace.",
)


class DeviceIdField(StrictCharField):
    """A device id exactly as sent: refused rather than trimmed, so it always names one device."""

    def __init__(self, **kwargs):
        super().__init__(max_length=255, trim_whitespace=False, validators=[DEVICE_ID], **kwargs)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: DRF's IntegerField also takes "7", 7.0 and true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)
