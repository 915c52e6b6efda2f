import hashlib
from dataclasses import dataclass, field

from django.http import HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from ai_scripts import services
from ai_scripts.models import AIScript
from ai_scripts.schema import DEGRADED, DOWN, SCRIPT
from ai_scripts.serializers import AIHealthSerializer, AIScriptSerializer
from persona.schema import errors

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ETag of a copy the app holds; when it is still current the answer is 304.",
)
NOT_MODIFIED = OpenApiResponse(description="Not modified: the app's copy (If-None-Match) is current.")
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 304],
    required=True,
    description="Send it back as If-None-Match to get a 304 while nothing changed.",
)


@extend_schema_view(
    list=extend_schema(
        operation_id="ai_scripts_list",
        summary="The active prompt templates",
        description="Sorted by name, with a strong ETag: a request whose If-None-Match holds the "
        "current ETag is a 304 without a body.",
        parameters=[IF_NONE_MATCH, ETAG],
        responses={200: AIScriptSerializer(many=True), 304: NOT_MODIFIED, **errors(401, 503)},
        examples=[SCRIPT],
    ),
    retrieve=extend_schema(
        operation_id="ai_script_retrieve",
        summary="One active prompt template",
        description="404 when no active script has this name. ETag and 304 as for the list.",
        parameters=[IF_NONE_MATCH, ETAG],
        responses={200: AIScriptSerializer, 304: NOT_MODIFIED, **errors(401, 404, 503)},
        examples=[SCRIPT],
    ),
)
@extend_schema(tags=["ai"])
class AIScriptViewSet(viewsets.ViewSet):
    """The active prompt templates, read-only, with ETags so that the app revalidates for free."""

    lookup_field = "script_name"
    lookup_value_regex = r"[-a-zA-Z0-9_]{1,100}"

    def list(self, request):
        def body():
            scripts = AIScript.objects.filter(is_active=True).order_by("script_name")
            return AIScriptSerializer(scripts, many=True).data

        return _conditional_json(request, name="list", body=body)

    def retrieve(self, request, script_name):
        def body():
            script = AIScript.objects.filter(is_active=True, script_name=script_name).first()
            if script is None:
                raise NotFound()
            return AIScriptSerializer(script).data

        return _conditional_json(request, name=f"script:{script_name}", body=body)


@extend_schema_view(
    list=extend_schema(
        operation_id="ai_health",
        summary="How the AI services are doing",
        description="Public. `degraded` when some enabled service is down, `down` (503) when "
        "every one is. Results are cached briefly; URLs and keys are never shown.",
        responses={
            200: AIHealthSerializer,
            503: OpenApiResponse(AIHealthSerializer, description="Every enabled AI service is down."),
        },
        examples=[DEGRADED, DOWN],
    )
)
@extend_schema(tags=["ai"])
class AIHealthViewSet(viewsets.ViewSet):
    """Public: how the AI services are doing. Never shows a service's URL."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    def list(self, request):
        report = services.ai_health_report()
        return Response(report, status=503 if report["status"] == "down" else 200)


@dataclass
class _Generation:
    """What this process rendered for one scripts stamp; it never changes under that stamp."""

    stamp: str
    rendered: dict[str, tuple[str, bytes]] = field(default_factory=dict)


_generation = _Generation(stamp="")


def _conditional_json(request, *, name: str, body) -> HttpResponse:
    """The JSON of body() with a strong ETag, or 304 when If-None-Match holds that ETag.

    The ETag and the JSON are kept in this process per scripts stamp, so a request costs
    one cache read (the stamp) and no query or serialization: only the first request after
    a change (which moves the stamp) renders them again.
    """
    global _generation
    stamp = services.scripts_stamp()
    generation = _generation
    if generation.stamp != stamp:
        generation = _generation = _Generation(stamp)
    cached = generation.rendered.get(name)
    if cached is None:
        content = JSONRenderer().render(body())
        cached = generation.rendered[name] = (f'"{hashlib.sha256(content).hexdigest()}"', content)
    etag, content = cached
    if _matches(request, etag):
        return _with_validators(HttpResponseNotModified(), etag)
    return _with_validators(HttpResponse(content, content_type="application/json"), etag)


def _matches(request, etag: str) -> bool:
    # If-None-Match compares weakly (RFC 9110), so a W/ prefix added by a proxy still matches.
    wanted = {tag.removeprefix("W/") for tag in parse_etags(request.headers.get("If-None-Match", ""))}
    return "*" in wanted or etag in wanted


def _with_validators(response: HttpResponse, etag: str) -> HttpResponse:
    response["ETag"] = etag
    # Every use must revalidate: a change in the admin shows up on the next request.
    response["Cache-Control"] = "private, no-cache"
    return response
