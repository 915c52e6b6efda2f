import logging
import re
import time
import uuid

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import connection
from django.http import JsonResponse

from persona import database
from persona.views import service_unavailable_for

request_logger = logging.getLogger("persona.requests")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


class ContentSecurityPolicyMiddleware:
    """A Content-Security-Policy header on every response: API_CONTENT_SECURITY_POLICY (the
    API's `default-src 'none'`), or PAGES_CONTENT_SECURITY_POLICY on the HTML pages, which
    load scripts and styles from this server: the admin's views (wherever it is mounted)
    and the API docs page.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.api_policy = _policy_header(settings.API_CONTENT_SECURITY_POLICY)
        self.pages_policy = _policy_header(settings.PAGES_CONTENT_SECURITY_POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        policy = self.pages_policy if _is_html_page(request) else self.api_policy
        response.headers.setdefault("Content-Security-Policy", policy)
        return response


def _is_html_page(request) -> bool:
    match = request.resolver_match
    return match is not None and (match.namespace == "admin" or match.url_name == "docs")


def _policy_header(directives: dict[str, list[str]]) -> str:
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


class RequestLogMiddleware:
    """One structured log line per request, and an X-Request-ID on every response.

    The ID comes from the proxy's X-Request-ID when it is well-formed, else it is generated.
    Only the method, the path (without query string), status, duration, user id and request
    id are logged: never a header, token, password or body.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        user = getattr(request, "user", None)
        request_logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": str(user.pk) if user is not None and user.is_authenticated else None,
                "request_id": request.request_id,
            },
        )
        return response


class ServiceUnavailableMiddleware:
    """Outside the API (the admin, the health probes), a backing service that fails or a
    server limit is the same JSON 503 with Retry-After as in the API, not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        unavailable = service_unavailable_for(exception)
        if unavailable is None:
            return None
        return JsonResponse(
            {"detail": str(unavailable.detail)},
            status=503,
            headers={"Retry-After": str(unavailable.retry_after)},
        )


class HeadResponseMiddleware:
    """A HEAD answer keeps the headers GET would have, Content-Length included, and drops the
    body here: gunicorn drops it too, but logs a warning for every HEAD request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method == "HEAD":
            if response.streaming:
                response.streaming_content = []
            else:
                response.content = b""
        return response


class DatabaseDeadlineMiddleware:
    """Gives every query of a request a deadline that the client keeps (persona.database), so
    a database that stops answering is a 503 rather than a request that hangs."""

    def __init__(self, get_response):
        if not settings.DATABASE_QUERY_DEADLINE:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.deadline = database.deadline(settings.DATABASE_QUERY_DEADLINE)

    def __call__(self, request):
        with connection.execute_wrapper(self.deadline):
            return self.get_response(request)
