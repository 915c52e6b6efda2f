"""Health probes, the JSON error pages and the API exception handler shared by every app."""

import logging
import sqlite3
import time

import psycopg
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError, connection
from django.http import Http404, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema
from redis.exceptions import RedisError
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.views import exception_handler as drf_exception_handler

from persona import database
from persona.exceptions import PayloadTooLarge, ServiceUnavailable
from persona.schema import HEALTHY, READY, UNAVAILABLE, HealthSerializer, ReadinessSerializer

logger = logging.getLogger(__name__)

STARTED_AT = time.monotonic()


# Probes for load balancers and platforms: public, GET (and HEAD) only.
PROBE = (api_view(["GET", "HEAD"]), authentication_classes([]), permission_classes([AllowAny]))


def probe(view):
    for decorator in reversed(PROBE):
        view = decorator(view)
    return view


@extend_schema(
    operation_id="health",
    summary="Liveness",
    description="200 whenever the process serves requests; checks nothing behind it.",
    tags=["health"],
    responses={200: HealthSerializer},
    examples=[HEALTHY],
)
@probe
def health(request):
    return JsonResponse(
        {
            "status": "OK",
            "message": "Persona Backend - Ultra-lightweight server",
            "timestamp": timezone.now().isoformat(),
            "uptime": round(time.monotonic() - STARTED_AT, 3),
        }
    )


@extend_schema(
    operation_id="health_ready",
    summary="Readiness",
    description="200 when the database and, if configured, the shared cache answer; 503 with "
    "the failing check otherwise. Recovers without a restart.",
    tags=["health"],
    responses={
        200: ReadinessSerializer,
        503: OpenApiResponse(ReadinessSerializer, description="A backing service is unreachable."),
    },
    examples=[READY, UNAVAILABLE],
)
@probe
def health_ready(request):
    """200 when the database and the shared cache answer, 503 otherwise."""
    checks = {"database": _check(_ping_database)}
    if settings.REDIS_URL:
        checks["cache"] = _check(_ping_cache)
    ready = all(result == "ok" for result in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


def _ping_database():
    # A short deadline, not a request's: a probe that waits is as good as a failed one.
    deadline = database.deadline(settings.DATABASE_PING_DEADLINE)
    with connection.execute_wrapper(deadline), connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _ping_cache():
    cache.set("health:ping", "1", timeout=5)
    if cache.get("health:ping") != "1":
        raise RuntimeError("cache did not return what was written")


def _check(probe) -> str:
    try:
        probe()
    except Exception:
        logger.warning("readiness probe %s failed", probe.__name__, exc_info=True)
        return "error"
    return "ok"


# Exempt, or an unknown path with an unsafe method would be an HTML 403 (no CSRF token)
# rather than the JSON 404 the API promises: the API uses bearer tokens, never cookies.
@csrf_exempt
def api_not_found(request):
    return not_found(request)


def bad_request(request, exception=None):
    return JsonResponse({"detail": "Bad request."}, status=400)


def not_found(request, exception=None):
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request):
    return JsonResponse({"detail": "Server error."}, status=500)


def api_exception_handler(exc, context):
    """DRF's handler, plus:
    - every 404 says "Not found." (Django's Http404 from get_object_or_404 names the model);
    - a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 (Django would say 400);
    - a database or cache that fails is a 503 with Retry-After the client may retry, not a
      500: the transaction was rolled back, so nothing was half-written.
    """
    if isinstance(exc, Http404):
        exc = NotFound()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    else:
        exc = service_unavailable_for(exc) or exc
    response = drf_exception_handler(exc, context)
    if isinstance(exc, ServiceUnavailable):
        response["Retry-After"] = str(exc.retry_after)
    return response


def service_unavailable_for(exc: Exception) -> ServiceUnavailable | None:
    """The 503 a failure of a backing service (or a server limit) is answered with, or None
    for any other exception."""
    if isinstance(exc, ServiceUnavailable):
        return exc
    if isinstance(exc, OperationalError | InterfaceError):
        if _is_busy(exc):
            logger.warning("database busy: %s", exc)
            return ServiceUnavailable(
                "The database is busy (a lock or statement timed out); try again shortly.", retry_after=1
            )
        logger.error("database unavailable", exc_info=exc)
        return ServiceUnavailable("The database is unavailable; try again later.")
    if isinstance(exc, RedisError):
        logger.error("cache unavailable", exc_info=exc)
        return ServiceUnavailable("The cache is unavailable; try again later.")
    if _is_object_storage_error(exc):
        logger.error("backup storage unavailable", exc_info=exc)
        return ServiceUnavailable("The backup storage is unavailable; try again later.")
    return None


def _is_object_storage_error(exc: Exception) -> bool:
    """An S3 call that failed (botocore, imported only once an error needs it: it adds a
    tenth of a second to the start of every process that does not use S3)."""
    if not type(exc).__module__.startswith("botocore"):
        return False
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, BotoCoreError | ClientError)


def _is_busy(exc: Exception) -> bool:
    """A lock or statement timeout: the database works but could not answer in time."""
    cause = exc.__cause__
    if isinstance(cause, psycopg.errors.LockNotAvailable | psycopg.errors.QueryCanceled):
        return True
    return isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause)
