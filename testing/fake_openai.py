"""A real, local OpenAI-compatible server for the AI relay's tests and benchmarks: the Chat
Completions API (plain and streamed as Server-Sent Events) and the models list, behind a
bearer key. It answers "echo: " + the last message's text.

The requested model name picks the behaviour, since the relay forwards nothing else:

    fail-500, rate-limited, bad-request   an OpenAI error (500, 429 with Retry-After, 400) whose
                                          message holds UPSTREAM_SECRET_TEXT
    hang                                  accepts the request and never answers
    slow-<ms>                             waits <ms> before every streamed chunk (and before
                                          a whole answer)
    stream-<seconds>-<n>                  n words ("w1 w2 ...") spread over <seconds>
    disconnect                            drops the connection: mid-stream, after the role
                                          chunk and two words; before any answer otherwise
    any other name                        answers at once

In tests, a server on a free loopback port in a thread of its own:

    with fake_openai(key="sk-test") as upstream:
        client = openai.OpenAI(base_url=upstream.base_url, api_key="sk-test")
        ...
        upstream.wait_for(lambda upstream: upstream.requests[-1].cancelled)

For benchmarks, a process of its own: `python -m testing.fake_openai --port N --key K` prints
`listening on http://127.0.0.1:N/v1` when ready and stops on SIGTERM or SIGINT. Like
testing.servers, nothing here imports pytest or Django.
"""

import argparse
import asyncio
import contextlib
import json
import re
import resource
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from aiohttp import web

UPSTREAM_SECRET_TEXT = "secret-upstream-detail"
DEFAULT_KEY = "sk-test-fake-openai"
MODEL_IDS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini")
SLOW = re.compile(r"slow-(\d+)")
TIMED = re.compile(r"stream-(\d+(?:\.\d+)?)-([1-9]\d*)")
# Room for the benchmarks' bursts of 1,000+ connections at once (the default is 128).
BACKLOG = 2048
# Responses still running when the server stops are cut after this long, not waited for.
SHUTDOWN_SECONDS = 0.2
START_SECONDS = 10
STOP_SECONDS = 10
SECRET_URL = f"http://10.9.8.7/{UPSTREAM_SECRET_TEXT}"
FAILURES = {  # status, type, code, message
    "fail-500": (500, "server_error", None, f"internal failure at {SECRET_URL}"),
    "rate-limited": (429, "requests", "rate_limit_exceeded", f"Rate limit reached, see {SECRET_URL}"),
    "bad-request": (400, "invalid_request_error", None, f"Invalid 'messages', see {SECRET_URL}"),
}


@dataclass
class ChatRequest:
    """One request to /v1/chat/completions, also one refused for its key. The server's thread
    sets `cancelled` when the client goes away before the response is complete, and
    `finished` once it is written in full: just after its last byte is sent, so a client can
    hold the answer a moment earlier (wait_for it)."""

    model: str
    body: dict
    authorization: str
    stream: bool
    cancelled: bool = False
    finished: bool = False


@dataclass(frozen=True)
class Pace:
    """Seconds to wait before every streamed chunk, before each word's chunk on top of that,
    and before a whole (non-streamed) answer."""

    chunk: float = 0.0
    word: float = 0.0
    answer: float = 0.0


KEY = web.AppKey("key", str)
RECORD = web.AppKey("record", Callable[[ChatRequest], None])


def make_app(key: str, record: Callable[[ChatRequest], None] = lambda request: None) -> web.Application:
    """The server's application; `record` is given each chat request as it arrives."""
    app = web.Application()
    app[KEY] = key
    app[RECORD] = record
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", models)
    return app


async def serve(
    app: web.Application, *, host: str, port: int, stopping: asyncio.Event, on_ready: Callable[[int], None]
) -> None:
    """Serves `app` on host:port (0: a free port) until `stopping` is set; `on_ready` gets the
    port once the server listens."""
    # Cancelling a handler when its client goes away is how `cancelled` gets recorded, and how
    # a `hang` ends; aiohttp lets handlers run on by default.
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, backlog=BACKLOG).start()
        on_ready(runner.addresses[0][1])
        await stopping.wait()
    finally:
        await runner.cleanup()


async def models(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _unauthorized()
    data = [{"id": model, "object": "model", "created": 0, "owned_by": "fake"} for model in MODEL_IDS]
    return web.json_response({"object": "list", "data": data})


async def chat_completions(request: web.Request) -> web.StreamResponse:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _error(400, "invalid_request_error", None, "The body of the request is not a JSON object.")
    record = ChatRequest(
        model=str(body.get("model", "")),
        body=body,
        authorization=request.headers.get("Authorization", ""),
        stream=body.get("stream") is True,
    )
    request.app[RECORD](record)
    # A client that goes away cancels the handler (see serve()), or fails the write under way.
    try:
        return await _respond(request, record)
    except (asyncio.CancelledError, ConnectionResetError):
        record.cancelled = True
        raise


async def _respond(request: web.Request, record: ChatRequest) -> web.StreamResponse:
    """The response to `record`, written in full; or, for `disconnect`, cut short."""
    if not _authorized(request):
        return await _sent(request, record, _unauthorized())
    if record.model in FAILURES:
        response = _error(*FAILURES[record.model])
        if response.status == 429:
            response.headers["Retry-After"] = "1"
        return await _sent(request, record, response)
    if record.model == "hang":
        await asyncio.Event().wait()  # nothing sets it: only a cancellation ends this
    if record.model == "disconnect":
        return await _cut_short(request, record)
    pace = _pace(record.model)
    if record.stream:
        return await _stream(request, record, pace)
    await asyncio.sleep(pace.answer)
    return await _sent(request, record, web.json_response(_completion(record)))


async def _sent(request: web.Request, record: ChatRequest, response: web.Response) -> web.Response:
    """`response` written out here rather than by aiohttp after the handler, so that
    `finished` is true only once it is."""
    await response.prepare(request)
    await response.write_eof()
    record.finished = True
    return response


async def _stream(request: web.Request, record: ChatRequest, pace: Pace) -> web.StreamResponse:
    """The answer as the real API streams it: a role chunk, a chunk per word, one with the
    finish reason, the usage (only if asked for), then [DONE]; each event sent as it comes."""
    head = _chunk_head(record.model)
    response = await _event_stream(request)
    await asyncio.sleep(pace.chunk)
    await response.write(_event(_delta_chunk(head, {"role": "assistant", "content": ""})))
    for word in _words(_answer(record)):
        await asyncio.sleep(pace.chunk + pace.word)
        await response.write(_event(_delta_chunk(head, {"content": word})))
    await asyncio.sleep(pace.chunk)
    await response.write(_event(_delta_chunk(head, {}, finish_reason="stop")))
    if (record.body.get("stream_options") or {}).get("include_usage") is True:
        await asyncio.sleep(pace.chunk)
        await response.write(_event({**head, "choices": [], "usage": _usage(record)}))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    record.finished = True
    return response


async def _cut_short(request: web.Request, record: ChatRequest) -> web.StreamResponse:
    """The connection dropped: a stream after its role chunk and two words, else before any
    answer. aiohttp then fails to send the response returned, and lets it go quietly."""
    response = web.StreamResponse()
    if record.stream:
        head = _chunk_head(record.model)
        response = await _event_stream(request)
        await response.write(_event(_delta_chunk(head, {"role": "assistant", "content": ""})))
        for word in _words(_answer(record))[:2]:
            await response.write(_event(_delta_chunk(head, {"content": word})))
    request.transport.abort()
    return response


async def _event_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    return response


def _event(data: dict) -> bytes:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _chunk_head(model: str) -> dict:
    """What every chunk of one streamed answer shares."""
    return {
        "id": _completion_id(),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }


def _delta_chunk(head: dict, delta: dict, finish_reason: str | None = None) -> dict:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return {**head, "choices": [choice]}


def _completion(record: ChatRequest) -> dict:
    message = {"role": "assistant", "content": _answer(record)}
    return {
        "id": _completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": record.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": _usage(record),
    }


def _completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def _answer(record: ChatRequest) -> str:
    if timed := TIMED.fullmatch(record.model):
        return " ".join(f"w{number}" for number in range(1, int(timed[2]) + 1))
    messages = _messages(record)
    return "echo: " + (_text(messages[-1]) if messages else "")


def _usage(record: ChatRequest) -> dict:
    prompt = sum(len(_text(message).split()) for message in _messages(record))
    completion = len(_answer(record).split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _messages(record: ChatRequest) -> list:
    messages = record.body.get("messages")
    return messages if isinstance(messages, list) else []


def _text(message: dict) -> str:
    """A message's content: a string, or parts whose texts are joined with spaces."""
    content = message.get("content") or ""
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if part.get("type") == "text")
    return content


def _words(answer: str) -> list[str]:
    """The answer cut after the spaces that follow each word, so the pieces join back to it
    (every answer starts with a word)."""
    return re.findall(r"\S+\s*", answer)


def _pace(model: str) -> Pace:
    if slow := SLOW.fullmatch(model):
        seconds = int(slow[1]) / 1000
        return Pace(chunk=seconds, answer=seconds)
    if timed := TIMED.fullmatch(model):
        seconds, words = float(timed[1]), int(timed[2])
        return Pace(word=seconds / words, answer=seconds)
    return Pace()


def _authorized(request: web.Request) -> bool:
    return request.headers.get("Authorization") == f"Bearer {request.app[KEY]}"


def _unauthorized() -> web.Response:
    return _error(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided")


def _error(status: int, kind: str, code: str | None, message: str) -> web.Response:
    error = {"message": message, "type": kind, "param": None, "code": code}
    return web.json_response({"error": error}, status=status)


class FakeOpenAI:
    """The server on a free loopback port, in a thread with its own event loop (see
    fake_openai()), and the chat requests it received."""

    def __init__(self, key: str = DEFAULT_KEY, host: str = "127.0.0.1"):
        self.key = key
        self.host = host
        self.port: int | None = None
        self._requests: list[ChatRequest] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def requests(self) -> list[ChatRequest]:
        """The chat requests so far, oldest first (a copy; the records themselves are live)."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()

    def wait_for(self, predicate: Callable[["FakeOpenAI"], bool], timeout: float = 5.0) -> None:
        """Polls until `predicate(self)` holds; AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self._holds(predicate):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the fake OpenAI server did not reach {getattr(predicate, '__qualname__', predicate)} "
                    f"within {timeout} s; its requests: {self.requests}"
                )
            time.sleep(0.01)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fake-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_SECONDS):
            raise RuntimeError(f"the fake OpenAI server did not start within {START_SECONDS} s")
        if self._failure is not None:
            raise RuntimeError("the fake OpenAI server did not start") from self._failure

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(STOP_SECONDS)

    def _holds(self, predicate: Callable[["FakeOpenAI"], bool]) -> bool:
        try:
            return bool(predicate(self))
        except LookupError:  # requests[-1] before the first request has come
            return False

    def _record(self, request: ChatRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as failure:
            self._failure = failure
        finally:
            self._ready.set()  # also after a failure to listen, which start() then raises

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        app = make_app(self.key, record=self._record)
        await serve(app, host=self.host, port=0, stopping=self._stopping, on_ready=self._listening)

    def _listening(self, port: int) -> None:
        self.port = port
        self._ready.set()


@contextlib.contextmanager
def fake_openai(key: str = DEFAULT_KEY) -> Iterator[FakeOpenAI]:
    """A FakeOpenAI taking `key`, running for the block and stopped after it."""
    upstream = FakeOpenAI(key)
    upstream.start()
    try:
        yield upstream
    finally:
        upstream.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 (the default): a free port")
    parser.add_argument("--key", required=True, help="the API key clients must send")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    _raise_open_files_limit()
    asyncio.run(_serve_until_signalled(args.host, args.port, args.key))


async def _serve_until_signalled(host: str, port: int, key: str) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    def announce(port: int) -> None:
        print(f"listening on http://{host}:{port}/v1", flush=True)

    await serve(make_app(key), host=host, port=port, stopping=stopping, on_ready=announce)


def _raise_open_files_limit() -> None:
    """A socket per stream: the soft limit is often 1,024, short of a benchmark's thousands."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


if __name__ == "__main__":
    main()
