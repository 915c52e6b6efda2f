import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder()


class ORJSONRenderer(JSONRenderer):
    """DRF's JSON renderer, through orjson: the same compact UTF-8 JSON several times faster,
    straight to bytes (a 10 MiB backup download is not built as a str first and then encoded).
    Types orjson does not know (lazy strings, Decimal, ...) go through DRF's own encoder, and
    what orjson refuses outright (integers beyond 64 bits, which a prompt template's JSON may
    hold; non-string keys) is rendered by DRF's renderer instead."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type or "", renderer_context or {}):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            return orjson.dumps(data, default=_fallback.default)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
