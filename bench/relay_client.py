"""The AI relay benchmark's client (bench/relay.py), a process of its own on the load CPU:
`python -m bench.relay_client client` reads its spec, then commands, as JSON lines on stdin
and answers each command with a JSON line on stdout, as bench/events.py's clients do.

- requests: chat completions to one of the spec's targets (the fake provider itself, or the
  relay), `concurrency` at a time over keep-alive connections; each one's latency, or for a
  stream its time to the first byte of the body;
- streams: `count` streamed completions opened at once, each read to its end;
- probe: a GET of a REST route on each target in turn, at most one round every `interval`.

One aiohttp session per process for whatever it calls, so the client costs the same for every
target.
"""

import asyncio
import collections
import json
import sys
import time

import aiohttp

from bench.events import describe, percentile, raise_open_files, read_command, say

MESSAGES = [{"role": "user", "content": "Say hello in one word."}]


def session() -> aiohttp.ClientSession:
    """No cap on connections (aiohttp's default is 100), no overall deadline: a stream lasts
    as long as it lasts, but a silent one is given up on."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60),
    )


def chat_body(model: str, *, stream: bool = False) -> bytes:
    return json.dumps({"model": model, "messages": MESSAGES, "stream": stream}).encode()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def error_code(body: bytes) -> str:
    """An OpenAI error's code (or type), for counting failures by kind."""
    try:
        error = json.loads(body)["error"]
        return str(error.get("code") or error.get("type"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return body[:60].decode(errors="replace")


def summary(ms: list[float]) -> dict:
    return {"count": len(ms), "p50_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99)}


async def completion(client, url: str, headers: dict, body: bytes, *, stream: bool) -> tuple[int, float]:
    """(status, ms until the whole answer has come, or for a stream its first byte); the
    answer is read to its end either way, so the connection can be used again."""
    started = time.perf_counter()
    async with client.post(url, data=body, headers=headers) as response:
        if stream and response.status == 200:
            await response.content.readany()
            elapsed = time.perf_counter() - started
            await response.read()
        else:
            await response.read()
            elapsed = time.perf_counter() - started
    return response.status, elapsed * 1000


async def requests(client, target: dict, *, count: int, concurrency: int, stream: bool = False) -> dict:
    """`count` completions, `concurrency` at a time; the k-th of those in flight signs in with
    the target's k-th token (one user each through the relay)."""
    numbers = iter(range(count))
    ms, statuses, errors = [], collections.Counter(), collections.Counter()
    body = chat_body(target["model"], stream=stream)

    async def one_after_another(k: int) -> None:
        headers = bearer(target["tokens"][k % len(target["tokens"])])
        for _ in numbers:  # shared: each request is taken once
            try:
                status, elapsed = await completion(client, target["url"], headers, body, stream=stream)
            except Exception as error:
                errors[describe(error)] += 1
                continue
            statuses[str(status)] += 1
            if status == 200:
                ms.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(one_after_another(k) for k in range(concurrency)))
    seconds = time.perf_counter() - started
    return {
        **summary(ms),
        "ms": ms,
        "seconds": seconds,
        "per_second": len(ms) / seconds,
        "statuses": dict(statuses),
        "errors": dict(errors),
    }


async def stream(client, url: str, token: str, body: bytes, launched: float, delay: float = 0.0) -> dict:
    """One streamed completion, sent `delay` seconds after `launched` and read to its end: when
    its first byte came (ms after `launched`, and after its own request), how many events it
    held, and whether it ended with [DONE] and no error event."""
    await asyncio.sleep(delay)
    started = time.perf_counter()
    result = {"first_byte_ms": None, "events": 0, "done": False, "error": None}
    try:
        async with client.post(url, data=body, headers=bearer(token)) as response:
            if response.status != 200:
                result["error"] = f"status {response.status} {error_code(await response.read())}"
                return result
            async for line in response.content:
                if result["first_byte_ms"] is None:
                    arrived = time.perf_counter()
                    result["first_byte_ms"] = (arrived - started) * 1000
                    result["first_byte_after_launch_ms"] = (arrived - launched) * 1000
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    result["done"] = True
                elif "error" in json.loads(payload):
                    result["error"] = f"error event {error_code(payload)}"
                else:
                    result["events"] += 1
    except Exception as error:
        result["error"] = describe(error)
    if result["error"] is None and not result["done"]:
        result["error"] = "ended without [DONE]"
    result["seconds"] = time.perf_counter() - started
    return result


async def streams(client, target: dict, *, count: int, spread_seconds: float = 0.0) -> dict:
    """`count` streams, sent at once or evenly over `spread_seconds`, the k-th signed in with
    the target's k-th token."""
    body = chat_body(target["model"], stream=True)
    tokens = target["tokens"]
    launched = time.perf_counter()
    results = await asyncio.gather(
        *(
            stream(client, target["url"], tokens[k % len(tokens)], body, launched, k * spread_seconds / count)
            for k in range(count)
        )
    )
    wall = time.perf_counter() - launched
    completed = [r for r in results if r["error"] is None]
    first_bytes = [r["first_byte_ms"] for r in results if r["first_byte_ms"] is not None]
    return {
        "streams": count,
        "completed": len(completed),
        "errors": dict(collections.Counter(r["error"] for r in results if r["error"]).most_common(10)),
        "events": dict(collections.Counter(str(r["events"]) for r in completed)),
        "p50_first_byte_ms": percentile(first_bytes, 0.5),
        "p99_first_byte_ms": percentile(first_bytes, 0.99),
        "all_first_bytes_after_s": max((r["first_byte_after_launch_ms"] for r in completed), default=0)
        / 1000,
        "p50_seconds": percentile([r["seconds"] for r in completed], 0.5),
        "max_seconds": max((r["seconds"] for r in completed), default=None),
        "wall_seconds": wall,
    }


async def probe(client, targets: dict, *, seconds: float, interval: float) -> dict:
    """GETs of each target in turn, a round at most every `interval`, for `seconds`."""
    ms = {name: [] for name in targets}
    statuses = {name: collections.Counter() for name in targets}
    deadline = time.perf_counter() + seconds
    while (began := time.perf_counter()) < deadline:
        for name, target in targets.items():
            started = time.perf_counter()
            try:
                async with client.get(target["url"], headers=bearer(target["token"])) as response:
                    await response.read()
                statuses[name][str(response.status)] += 1
                if response.status == 200:
                    ms[name].append((time.perf_counter() - started) * 1000)
            except Exception as error:
                statuses[name][describe(error)] += 1
        await asyncio.sleep(max(0.0, began + interval - time.perf_counter()))
    return {name: {**summary(ms[name]), "statuses": dict(statuses[name])} for name in targets}


async def serve(spec: dict) -> None:
    async with session() as client:
        while (command := await read_command())["do"] != "close":
            if command["do"] == "requests":
                target = spec["targets"][command["target"]]
                say(
                    await requests(
                        client,
                        target,
                        count=command["count"],
                        concurrency=command["concurrency"],
                        stream=command["stream"],
                    )
                )
            elif command["do"] == "streams":
                target = spec["targets"][command["target"]]
                say(
                    await streams(
                        client, target, count=command["count"], spread_seconds=command["spread_seconds"]
                    )
                )
            elif command["do"] == "probe":
                say(
                    await probe(
                        client, spec["targets"], seconds=command["seconds"], interval=spec["interval"]
                    )
                )
            else:
                raise ValueError(f"unknown command {command!r}")


def main() -> None:
    raise_open_files()
    spec = json.loads(sys.stdin.readline())
    asyncio.run(serve(spec))


if __name__ == "__main__":
    main()
