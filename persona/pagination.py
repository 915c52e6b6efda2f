import re

from django.utils.http import urlencode
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

# SQL's OFFSET is a 64-bit integer; a page past this is past any list and reads nothing.
MAX_OFFSET = 2**62


def _positive_int(request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]+", value) or int(value) < 1:
        raise ValidationError({name: ["A positive integer is required."]})
    return int(value)


class CappedPagination(BasePagination):
    """Lists come in pages of at most MAX_PAGE_SIZE items, whatever `page_size` asks for
    (a larger one is capped, not refused).

    The body stays a plain JSON list, as the app expects; the next page's URL travels in a
    `Link: <…>; rel="next"` header. One query per page: a row past the page tells whether
    there is a next one, so no COUNT(*) is needed.
    """

    MAX_PAGE_SIZE = 100

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = min(_positive_int(request, "page_size", self.MAX_PAGE_SIZE), self.MAX_PAGE_SIZE)
        self.page = _positive_int(request, "page", 1)
        start = (self.page - 1) * self.page_size
        rows = list(queryset[start : start + self.page_size + 1]) if start <= MAX_OFFSET else []
        self.has_next = len(rows) > self.page_size
        return rows[: self.page_size]

    def get_paginated_response(self, data):
        headers = {}
        if self.has_next:
            query = {**self.request.query_params.dict(), "page": self.page + 1, "page_size": self.page_size}
            next_url = self.request.build_absolute_uri(f"{self.request.path}?{urlencode(query)}")
            headers["Link"] = f'<{next_url}>; rel="next"'
        return Response(data, headers=headers)

    def get_paginated_response_schema(self, schema):
        return schema

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": "Page number, from 1.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "description": f"Items per page; more than {self.MAX_PAGE_SIZE} (the default) is capped.",
                "schema": {"type": "integer", "minimum": 1},
            },
        ]
