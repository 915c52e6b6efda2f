"""Calling the providers: one OpenAI-compatible chat request, tried along an alias's routes
until one answers, and its Server-Sent Events read one event at a time.

A provider that cannot be reached, times out, answers 5xx, 429, 401 or 403 (a key the
provider no longer takes), or ends before its first event is passed over for the next one;
once the first event has gone to the app there is no going back. Nothing a provider says in
an error, nor its URL, reaches the app or the logs: only its name and the kind of failure.
"""

import asyncio
import logging
import time
import typing
import weakref
from dataclasses import dataclass, field

import httpx
import orjson

from ai_scripts.chat import ChatRequest
from ai_scripts.exceptions import RelayError, UpstreamFailed

logger = logging.getLogger(__name__)

CONNECT_SECONDS = 5.0
# The largest answer read from a provider that is not streaming.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
FALLBACK_STATUSES = {401, 403, 408, 409, 429}

# One client (connection pool) per event loop: uvicorn runs one loop per worker process.
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]" = (
    weakref.WeakKeyDictionary()
)


@dataclass
class Route:
    provider: str
    url: str
    api_key: str
    model: str
    timeout: float


@dataclass
class Failure:
    provider: str
    kind: str  # "timeout", "unreachable", "status 503", "no first event" ...

    @property
    def timed_out(self) -> bool:
        return self.kind == "timeout"


@dataclass
class Answer:
    """A provider's 200: for a stream, its open response and first event; otherwise the body."""

    route: Route
    latency_ms: int
    response: httpx.Response | None = None
    stream: typing.AsyncIterator[bytes] | None = None
    first_event: bytes = b""
    body: bytes = b""
    failures: list[Failure] = field(default_factory=list)

    async def events(self):
        """The stream's events, each `data: ...\\n\\n` as bytes, the first one included."""
        yield self.first_event
        async for event in self.stream:
            yield event

    async def close(self) -> None:
        if self.response is not None:
            await self.response.aclose()


def client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        # No cap on connections: each relayed request holds one, and the per-user cap
        # (AI_RELAY_STREAMS_PER_USER) is what bounds them.
        _clients[loop] = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
            headers={"User-Agent": "persona-relay"},
        )
    return _clients[loop]


async def answer(*, chat: ChatRequest, routes: list[Route]) -> Answer:
    """The first route's answer that comes; RelayError when a provider refuses the request
    itself (400), UpstreamFailed when every one fails."""
    if not routes:
        raise UpstreamFailed("No AI provider serves this model right now.", status=503, code="no_provider")
    failures = []
    for route in routes:
        try:
            result = await _attempt(chat, route)
        except _Failed as failed:
            failures.append(Failure(route.provider, failed.kind))
            logger.warning("AI provider %s failed: %s", route.provider, failed.kind)
            continue
        result.failures = failures
        return result
    if all(failure.timed_out for failure in failures):
        raise UpstreamFailed("The AI provider did not answer in time.", status=504, code="upstream_timeout")
    raise UpstreamFailed("The AI provider failed to answer.", status=502, code="upstream_error")


class _Failed(Exception):
    def __init__(self, kind: str):
        self.kind = kind


async def _attempt(chat: ChatRequest, route: Route) -> Answer:
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if chat.stream else "application/json",
    }
    if route.api_key:
        headers["Authorization"] = f"Bearer {route.api_key}"
    request = client().build_request(
        "POST",
        route.url,
        content=chat.upstream_body(route.model),
        headers=headers,
        timeout=httpx.Timeout(route.timeout, connect=min(route.timeout, CONNECT_SECONDS)),
    )
    started = time.monotonic()
    response = None
    try:
        response = await client().send(request, stream=True)
        if response.status_code != 200:
            raise _status_failure(route, response.status_code)
        if chat.stream:
            stream = _events(response)
            first_event = await anext(stream, None)
            if first_event is None:
                raise _Failed("ended before its first event")
            latency_ms = round((time.monotonic() - started) * 1000)
            return Answer(
                route=route, latency_ms=latency_ms, response=response, stream=stream, first_event=first_event
            )
        body = await _read_answer(response)
        return Answer(route=route, latency_ms=round((time.monotonic() - started) * 1000), body=body)
    except httpx.TimeoutException:
        await _close(response)
        raise _Failed("timeout") from None
    except httpx.HTTPError as error:
        await _close(response)
        raise _Failed(f"unreachable ({type(error).__name__})") from None
    except BaseException:
        await _close(response)
        raise
    finally:
        if response is not None and not chat.stream:
            await response.aclose()


def _status_failure(route: Route, status: int) -> Exception:
    if status in FALLBACK_STATUSES or status >= 500:
        return _Failed(f"status {status}")
    logger.warning("AI provider %s refused a request: status %s", route.provider, status)
    return RelayError(
        f"The AI provider refused this request (HTTP {status}).", status=400, code="upstream_refused"
    )


async def _read_answer(response: httpx.Response) -> bytes:
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise _Failed("answer too large")
        chunks.append(chunk)
    body = b"".join(chunks)
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _Failed("answer is not JSON") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list):
        raise _Failed("answer is not a chat completion")
    return body


async def _events(response: httpx.Response):
    """Complete SSE events as they arrive; comments and blank keep-alives are dropped."""
    pending = b""
    async for chunk in response.aiter_bytes():
        pending += chunk.replace(b"\r\n", b"\n")
        while b"\n\n" in pending:
            event, pending = pending.split(b"\n\n", 1)
            if event.startswith(b"data:"):
                yield event + b"\n\n"


async def _close(response: httpx.Response | None) -> None:
    if response is not None:
        await response.aclose()
