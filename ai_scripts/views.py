import functools
import hashlib

import orjson
from django.http import HttpResponse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import OptionalTokenAuthentication
from ai_scripts import app_config, config_services, services
from ai_scripts.models import AIScript
from ai_scripts.schema import APP_CONFIG, DEGRADED, DOWN, SCRIPT
from ai_scripts.serializers import AIHealthSerializer, AIScriptSerializer, AppConfigSerializer
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
        etag = quote_etag(services.scripts_etag())
        if not_modified := get_conditional_response(request, etag=etag):
            return _revalidated(not_modified, etag)
        return _revalidated(Response(_active_scripts(etag)), etag)

    def retrieve(self, request, script_name):
        etag = services.scripts_etag(script_name=script_name)
        if etag is None:
            raise NotFound()
        etag = quote_etag(etag)
        if not_modified := get_conditional_response(request, etag=etag):
            return _revalidated(not_modified, etag)
        script = AIScript.objects.filter(is_active=True, script_name=script_name).first()
        if script is None:  # deactivated since the ETag was read
            raise NotFound()
        return _revalidated(Response(AIScriptSerializer(script).data), etag)


@functools.lru_cache(maxsize=4)
def _active_scripts(etag: str) -> list:
    """The active scripts' JSON for this ETag, built once per process (bench/README.md): the
    ETag changes with every edit, so an entry never outlives the data it was built from."""
    scripts = AIScript.objects.filter(is_active=True).order_by("script_name")
    return AIScriptSerializer(scripts, many=True).data


def _revalidated(response, etag: str):
    response["ETag"] = etag
    # Every use must revalidate: a change in the admin shows up on the next request.
    response["Cache-Control"] = "private, no-cache"
    return response


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


class AppConfigView(APIView):
    """GET /api/config/app-config: the newest published configuration, resolved for this app."""

    authentication_classes = (OptionalTokenAuthentication,)
    permission_classes = (AllowAny,)

    @extend_schema(
        tags=["config"],
        operation_id="app_config",
        summary="The app's remote configuration",
        description="Works without a token (the app asks before sign-in); with a valid access token the "
        "per-user rules (signed in, rollout percentage) apply too, and an invalid, expired or revoked one "
        "counts as none. Each parameter takes the value of its first rule whose conditions all hold for "
        "this app, else its default. Missing, unknown or malformed headers never fail the request: rules "
        "that ask for them do not match. A strong ETag over the answer: If-None-Match with it is a "
        "304. The answer varies with Authorization, X-Platform and X-App-Version, and shared caches "
        "never store it (Cache-Control: private, no-cache).",
        parameters=[
            OpenApiParameter(
                "X-Platform",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                enum=list(app_config.PLATFORMS),
                description="The app's platform (case does not matter).",
            ),
            OpenApiParameter(
                "X-App-Version",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The app's version in full semver: 2.1.0, 2.1.0-beta.2 or 2.1.0+45 (build "
                "metadata is ignored).",
            ),
            IF_NONE_MATCH,
            ETAG,
        ],
        auth=[{"bearerAuth": []}, {}],
        responses={200: AppConfigSerializer, 304: NOT_MODIFIED, **errors(503)},
        examples=[APP_CONFIG],
    )
    def get(self, request):
        client = app_config.Client.from_headers(
            platform=request.headers.get("X-Platform"),
            app_version=request.headers.get("X-App-Version"),
            user_id=request.user.pk if request.user else None,
        )
        content = orjson.dumps(config_services.config_live().answer(client))
        etag = quote_etag(hashlib.sha256(content).hexdigest()[:32])
        response = get_conditional_response(request, etag=etag) or HttpResponse(
            content, content_type="application/json"
        )
        patch_vary_headers(response, ("Authorization", "X-Platform", "X-App-Version"))
        return _revalidated(response, etag)
