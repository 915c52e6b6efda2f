"""API responses are rendered by orjson, with DRF's encoder for the types orjson lacks."""

from decimal import Decimal

from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from persona.renderers import ORJSONRenderer


def test_it_renders_compact_utf8_json():
    assert ORJSONRenderer().render({"name": "Zoë", "items": [1, None, True]}) == (
        '{"name":"Zoë","items":[1,null,true]}'.encode()
    )


def test_it_renders_what_only_drf_knows_as_drf_does():
    data = {"price": Decimal("1.50"), "detail": gettext_lazy("Not found.")}

    assert (
        ORJSONRenderer().render(data) == JSONRenderer().render(data) == b'{"price":1.5,"detail":"Not found."}'
    )


def test_it_renders_nothing_for_no_data():
    assert ORJSONRenderer().render(None) == b""


def test_it_indents_when_the_client_asks():
    assert ORJSONRenderer().render({"a": 1}, "application/json; indent=2") == b'{\n  "a": 1\n}'


def test_what_orjson_refuses_is_rendered_by_drf():
    data = {"max_tokens": 2**70, "by_id": {1: "one"}}

    assert ORJSONRenderer().render(data) == JSONRenderer().render(data)
