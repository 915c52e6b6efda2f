"""The OpenAI-compatible relay, base URL /api/ai/v1 (README, "Use the relay").

The app talks to it with any OpenAI SDK, its access token as the API key, and asks for a model
alias; the server holds the providers' keys, renders AI script templates, keeps each user
within their budgets and records what every request cost. Streams (`stream: true`) pass the
provider's Server-Sent Events on as they come; they run on the ASGI side (Procfile `events`),
where a stream waiting on its provider holds no thread, and a client that goes away cancels
the provider's request.

The database work of a request happens in two steps, each in a thread (channels'
database_sync_to_async, which hands the connection back after): before the provider is asked
(who, what, which routes, within budget?) and after the answer ends (usage).
"""

import asyncio
import logging
import time
import weakref

import httpx
import orjson
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import close_old_connections
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework_simplejwt.tokens import AccessToken

from accounts.services import token_decode, token_user
from ai_scripts import budgets, upstream
from ai_scripts.chat import ChatRequest, chat_request_parse, prompt_text
from ai_scripts.exceptions import BackingServiceDown, RelayError, Unauthenticated, UpstreamFailed
from ai_scripts.models import AIRequest, AIScript, ModelAlias, ModelRoute
from persona.views import service_unavailable_for

logger = logging.getLogger(__name__)

# Rough tokens per character, for a provider that reports no usage.
CHARS_PER_TOKEN = 4


class Plan:
    """A request that may go to its providers: who asks, what, along which routes."""

    def __init__(self, *, user_id, chat: ChatRequest, routes: list[upstream.Route], slot: str):
        self.user_id, self.chat, self.routes, self.slot = user_id, chat, routes, slot
        self.created_at = timezone.now()
        self.started = time.monotonic()


@csrf_exempt
async def chat_completions(request):
    if request.method != "POST":
        return _not_allowed("POST")
    try:
        plan = await _plan(request)
    except RelayError as error:
        return _error(error)
    try:
        answer = await upstream.answer(chat=plan.chat, routes=plan.routes)
    except RelayError as error:
        outcome = AIRequest.Outcome.REFUSED if error.status == 400 else AIRequest.Outcome.FAILED
        await _finish(_record(plan, status=error.status, outcome=outcome))
        return _error(error)
    except asyncio.CancelledError:
        await _finish(_record(plan, status=499, outcome=AIRequest.Outcome.CLIENT_GONE))
        raise
    except Exception:
        # A fault of the server's own: the request still gives its place back and is counted.
        await _finish(_record(plan, status=500, outcome=AIRequest.Outcome.FAILED))
        raise
    if plan.chat.stream:
        response = StreamingHttpResponse(_stream(plan, answer), content_type="text/event-stream")
        # No proxy may hold the events back (nginx reads X-Accel-Buffering).
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response
    usage = orjson.loads(answer.body).get("usage") or {}
    record = _record(
        plan,
        answer=answer,
        status=200,
        outcome=AIRequest.Outcome.OK,
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
    )
    return RecordsUsageOnClose(answer.body, content_type="application/json", record=record)


class RecordsUsageOnClose(HttpResponse):
    """An answer whose usage is recorded once it has been sent: the server calls close()
    after the last byte (in a thread), so the app does not wait for the writes."""

    def __init__(self, *args, record: "Finished", **kwargs):
        super().__init__(*args, **kwargs)
        self.record = record

    def close(self):
        try:
            super().close()
        finally:
            self.record.save()


async def models_list(request):
    if request.method != "GET":
        return _not_allowed("GET")
    try:
        aliases = await _in_thread(_aliases, request.headers.get("Authorization", ""))
    except RelayError as error:
        return _error(error)
    return JsonResponse(
        {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": int(created), "owned_by": "persona"}
                for name, created in aliases
            ],
        }
    )


async def _plan(request) -> Plan:
    try:
        raw = request.body
    except RequestDataTooBig:
        raw = None
    if raw is None or len(raw) > settings.AI_RELAY_MAX_BODY_BYTES:
        raise RelayError(
            f"The body is larger than {settings.AI_RELAY_MAX_BODY_BYTES} bytes.",
            status=413,
            code="body_too_large",
        )
    return await _in_thread(_prepare, request.headers.get("Authorization", ""), raw)


# Per event loop (a worker's): how many relayed requests may do their database work at once.
_database_turns: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = (
    weakref.WeakKeyDictionary()
)


def _turns() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _database_turns:
        _database_turns[loop] = asyncio.Semaphore(settings.DB_POOL_SIZE)
    return _database_turns[loop]


async def _in_thread(function, *args):
    """Runs database work in a thread (the connection goes back to the pool after); a
    database or cache that fails is a 503 in the relay's error shape.

    No more requests than the pool has connections do so at once: in a burst the others wait
    here, in the event loop, rather than in the pool, whose wait ends in a 503 after
    DB_POOL_TIMEOUT (bench/README.md, "AI relay")."""
    try:
        async with _turns():
            return await database_sync_to_async(function)(*args)
    except RelayError:
        raise
    except Exception as error:
        unavailable = service_unavailable_for(error)
        if unavailable is None:
            raise
        raise BackingServiceDown(str(unavailable.detail), retry_after=unavailable.retry_after) from error


def _prepare(authorization: str, raw: bytes) -> Plan:
    user = _authenticate(authorization)
    chat = chat_request_parse(raw)
    routes = _routes(chat.alias)
    if chat.template:
        script = AIScript.objects.filter(script_name=chat.template, is_active=True).first()
        if script is None:
            raise RelayError(
                f"No active AI script is named {chat.template!r}.", code="unknown_template", param="template"
            )
        chat.apply_template(script.script_content)
    budgets.budget_check(user_id=user.pk, now=timezone.now())
    slot = budgets.relay_slot_take(user_id=user.pk)
    return Plan(user_id=user.pk, chat=chat, routes=routes, slot=slot)


# Each process keeps an alias's routes this long: staff's changes to providers and aliases
# reach every instance within it, and a request makes one query fewer (bench/README.md).
ROUTES_SECONDS = 5
_routes_by_alias: dict[str, tuple[float, list[upstream.Route]]] = {}


def _routes(alias: str) -> list[upstream.Route]:
    """The alias's routes in the order they are tried; a 400 when there is no such alias."""
    now = time.monotonic()
    kept = _routes_by_alias.get(alias)
    if kept is not None and kept[0] > now:
        return kept[1]
    rows = list(
        ModelRoute.objects.filter(alias__name=alias, alias__enabled=True, service__enabled=True)
        .exclude(service__base_url="")
        .select_related("service")
        .order_by("service__priority", "service__name")
    )
    if not rows and not ModelAlias.objects.filter(name=alias, enabled=True).exists():
        # Not kept: names that do not exist could fill the memory.
        raise RelayError(
            f"The model {alias!r} does not exist; GET /api/ai/v1/models lists them.",
            code="model_not_found",
            param="model",
        )
    routes = [_route(row) for row in rows]
    _routes_by_alias[alias] = (now + ROUTES_SECONDS, routes)
    return routes


def routes_forget() -> None:
    """Forgets the routes this process keeps (tests change them between requests)."""
    _routes_by_alias.clear()


def _authenticate(authorization: str):
    scheme, _, raw_token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not raw_token.strip():
        raise Unauthenticated()
    try:
        token = token_decode(AccessToken, raw_token.strip())
    except Exception:
        raise Unauthenticated("The access token is invalid or expired.") from None
    user = token_user(token)
    if user is None:
        raise Unauthenticated("The access token is invalid or revoked.")
    return user


def _aliases(authorization: str) -> list[tuple[str, float]]:
    _authenticate(authorization)
    # An alias is listed while some enabled provider serves it.
    aliases = (
        ModelAlias.objects.filter(enabled=True, routes__service__enabled=True)
        .exclude(routes__service__base_url="")
        .distinct()
        .order_by("name")
    )
    return [(alias.name, 0) for alias in aliases]


def _route(route: ModelRoute) -> upstream.Route:
    service = route.service
    return upstream.Route(
        provider=service.name,
        url=service.base_url.rstrip("/") + "/chat/completions",
        api_key=service.api_key(),
        model=route.model,
        timeout=service.request_timeout_seconds,
    )


async def _stream(plan: Plan, answer: upstream.Answer):
    """The provider's events as they come; what they cost is recorded once they end, however
    they end."""
    completion_chars, usage = 0, {}
    status, outcome = 200, AIRequest.Outcome.OK
    try:
        async for event in answer.events():
            payload = event[5:].strip()
            if payload != b"[DONE]":
                chunk = _chunk(payload)
                if chunk.get("usage"):
                    usage = chunk["usage"]
                    # The provider sends usage because the relay asks for it; the app gets it
                    # only when it asked too.
                    if not plan.chat.include_usage and not chunk.get("choices"):
                        continue
                completion_chars += _delta_chars(chunk)
            yield event
    except asyncio.CancelledError:
        status, outcome = 499, AIRequest.Outcome.CLIENT_GONE
        raise
    except httpx.HTTPError as error:
        logger.warning("AI provider %s stopped mid-stream: %s", answer.route.provider, type(error).__name__)
        status, outcome = 502, AIRequest.Outcome.INTERRUPTED
        yield _error_event(
            UpstreamFailed(
                "The AI provider stopped answering mid-stream.", status=502, code="upstream_interrupted"
            )
        )
    finally:
        await answer.close()
        # Awaited here even when the client went away: the server waits for this generator
        # to end before it lets the request go.
        await _finish(
            _record(
                plan,
                answer=answer,
                status=status,
                outcome=outcome,
                prompt_tokens=usage.get("prompt_tokens"),
                completion_tokens=usage.get("completion_tokens")
                if usage
                else -(-completion_chars // CHARS_PER_TOKEN),
            )
        )


def _chunk(payload: bytes) -> dict:
    try:
        chunk = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return {}
    return chunk if isinstance(chunk, dict) else {}


def _delta_chars(chunk: dict) -> int:
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return 0
    content = (choices[0].get("delta") or {}).get("content")
    return len(content) if isinstance(content, str) else 0


class Finished:
    """A request that has ended: its usage to record and its slot to give back, once."""

    def __init__(self, slot: str, record: AIRequest):
        self.slot, self.request, self.saved = slot, record, False

    def save(self) -> None:
        if self.saved:
            return
        self.saved = True
        try:
            budgets.relay_slot_release(self.slot)
            budgets.usage_record(request=self.request)
        except Exception:
            logger.exception("the AI usage of a request could not be recorded")
        finally:
            # This may run after the request's own clean-up (a response's close()): the
            # connection goes back to the pool here, not with the thread.
            close_old_connections()


async def _finish(finished: Finished) -> None:
    async with _turns():
        await database_sync_to_async(finished.save)()


def _record(
    plan: Plan,
    *,
    status: int,
    outcome: str,
    answer: upstream.Answer | None = None,
    prompt_tokens=None,
    completion_tokens=None,
) -> Finished:
    if prompt_tokens is None:
        # Without the provider's count, an estimate: what was sent is charged either way.
        prompt_tokens = -(-len(prompt_text(plan.chat.messages)) // CHARS_PER_TOKEN) if answer else 0
    record = AIRequest(
        user_id=plan.user_id,
        created_at=plan.created_at,
        model_alias=plan.chat.alias,
        provider=answer.route.provider if answer else "",
        upstream_model=answer.route.model if answer else "",
        stream=plan.chat.stream,
        status=status,
        outcome=outcome,
        prompt_tokens=max(int(prompt_tokens or 0), 0),
        completion_tokens=max(int(completion_tokens or 0), 0),
        latency_ms=answer.latency_ms if answer else None,
        duration_ms=round((time.monotonic() - plan.started) * 1000),
    )
    return Finished(plan.slot, record)


def _not_allowed(method: str) -> JsonResponse:
    error = RelayError(f"Use {method}.", status=405, code="method_not_allowed")
    error.headers = {"Allow": method}
    return _error(error)


def _error(error: RelayError) -> JsonResponse:
    return JsonResponse(error.body(), status=error.status, headers=error.headers)


def _error_event(error: RelayError) -> bytes:
    return b"data: " + orjson.dumps(error.body()) + b"\n\n"
