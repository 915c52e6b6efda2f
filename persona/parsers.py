from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

TOO_DEEP = "JSON parse error - nesting is too deep."


def json_loads(text: str):
    """DRF's strict json.loads, with every kind of bad JSON a ParseError (400): absurd
    nesting raises RecursionError, which would otherwise be a 500."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ParseError(f"JSON parse error - {exc}") from None
    except RecursionError:
        raise ParseError(TOO_DEEP) from None


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, with absurdly deep nesting a 400 instead of a RecursionError (500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
