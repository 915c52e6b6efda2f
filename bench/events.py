"""The live events' rows of the benchmark (bench/README.md, "Live events"), run by bench/run.py:

- events_idle: authenticated idle sockets held by one events server (the Procfile's `events`
  entry: gunicorn with persona.events_worker.EventsWorker, two workers as on a 2-core box),
  every one of them answered `ready` and later a ping, and the server's RSS per 1,000;
- events_latency: from a device's sync report (POST /api/sync/status to the WSGI `web`
  server) to the `sync.version` event on the user's other device's socket (the ASGI
  `events` server, through Redis), with 1,000 sockets open;
- rest_asgi: the REST rows served by the ASGI side against the WSGI gunicorn, interleaved:
  what serving everything from one ASGI server would cost.

The clients are this module run as a process on the load CPU (`python -m bench.events idle`
or `latency`): they read their spec and commands as JSON lines on stdin and answer JSON
lines on stdout. Open-file limits are raised here before anything starts: the servers and
the clients inherit them.
"""

import asyncio
import collections
import contextlib
import hashlib
import json
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator

from bench import run
from testing import servers

IDLE_SOCKETS = 1_000 if run.QUICK else 10_000
# Held past two rounds of the server's protocol pings (every 20 s) before they are checked.
IDLE_HOLD_SECONDS = 5 if run.QUICK else 45
IDLE_WORKERS = 2
LATENCY_SOCKETS = 1_000
LATENCY_SAMPLES = 100 if run.QUICK else 600
LATENCY_WARMUP = 20
LATENCY_INTERVAL = 0.05  # one report at a time, 20 a second at most
MISSED_AFTER_SECONDS = 2
# Sockets opened (and closed) at once. Each one's connect and disconnect make two Redis calls,
# and a worker's channel layer fails a call at once beyond 100 connections in its pool.
OPENING = 50
OPEN_FILES = 65_536
PORTS = {"events": 3831, "web": 3832, "wsgi": 3833, "asgi": 3834}
EVENTS_WORKER = ["--worker-class", "persona.events_worker.EventsWorker"]
REST_ROWS = ("health", "scripts_200", "scripts_304", "sync_upsert", "sync_get")
ROWS = ("events_idle", "events_latency", "rest_asgi")


# ---------------------------------------------------------------- the measuring side


def measure(bench: run.Bench, env: dict, seed: dict) -> dict:
    """The rows BENCH_ONLY selects (all of them when it is empty)."""
    selected = [row for row in ROWS if not run.ONLY or row in run.ONLY]
    if not selected:
        return {}
    raise_open_files()
    results = {}
    if "events_idle" in selected:
        results["events_idle"] = idle_sockets(env, seed)
    if "events_latency" in selected:
        results["events_latency"] = delivery_latency(env, seed)
    if "rest_asgi" in selected:
        results["rest_asgi"] = rest_asgi_against_wsgi(bench, env)
    return results


def raise_open_files() -> int:
    """RLIMIT_NOFILE's soft limit raised to OPEN_FILES (and the hard one when allowed)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard >= OPEN_FILES:
        resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, hard))
    else:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def events_env(env: dict, **overrides: str) -> dict:
    """The benchmark's environment with the per-process socket limits out of the way: every
    client socket comes from 127.0.0.1, and the idle sockets share a handful of users."""
    return {
        **env,
        "EVENTS_MAX_SOCKETS_PER_USER": "100000",
        "EVENTS_MAX_SOCKETS_PER_ADDRESS": "100000",
        **overrides,
    }


def start_events(name: str, env: dict, port: int):
    """The ASGI side as the Procfile runs it, on the servers' CPU."""
    return servers.gunicorn(
        env,
        app="persona.asgi:application",
        prefix=["taskset", "-c", run.SERVER_CPU],
        port=port,
        log=run.RESULTS / f"{name}.log",
        extra=EVENTS_WORKER,
    )


class Client:
    """This module's client side in its own process on the load CPU."""

    def __init__(self, process: subprocess.Popen):
        self.process = process

    def send(self, message: dict) -> None:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def answer(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the events client ended with {self.process.wait()}")
        return json.loads(line)


@contextlib.contextmanager
def client(
    mode: str, spec: dict, *, module: str = "bench.events", cpu: str = run.LOAD_CPU
) -> Iterator[Client]:
    """`module` run as `mode` in a process of its own on `cpu`, given `spec` on its first line:
    it answers one JSON line per command (this module's clients, bench/backup_client.py)."""
    process = subprocess.Popen(
        ["taskset", "-c", cpu, sys.executable, "-m", module, mode],
        cwd=run.PROJECT,
        env={**os.environ, "PYTHONPATH": str(run.PROJECT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        started = Client(process)
        started.send(spec)
        yield started
    finally:
        servers.stop(process)


def server_rss_mib(server: servers.Server) -> dict:
    """RSS of the gunicorn master and of each worker (/proc/<pid>/smaps_rollup), MiB."""
    pids = server.pids()
    return {
        "master": run.memory(pids[0])["rss_mib"],
        "workers": [run.memory(pid)["rss_mib"] for pid in pids[1:]],
        "total": sum(run.memory(pid)["rss_mib"] for pid in pids),
    }


def established(port: int) -> int:
    """TCP connections in ESTABLISHED state on the server's side of `port`."""
    output = subprocess.run(
        ["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return len(output.splitlines())


def idle_sockets(env: dict, seed: dict) -> dict:
    tokens = [token for devices in seed["event_tokens"] for token in devices.values()]
    server_env = events_env(env, WEB_CONCURRENCY=str(IDLE_WORKERS))
    with start_events("events-idle", server_env, PORTS["events"]) as server:
        before = server_rss_mib(server)
        url = f"ws://127.0.0.1:{server.port}/ws/events"
        spec = {"url": url, "tokens": tokens, "sockets": IDLE_SOCKETS, "parallel": OPENING}
        with client("idle", spec) as sockets:
            opened = sockets.answer()
            connections = established(server.port)
            held = server_rss_mib(server)
            time.sleep(IDLE_HOLD_SECONDS)
            sockets.send({"do": "ping"})
            checked = sockets.answer()
            after = server_rss_mib(server)
            sockets.send({"do": "close"})
            sockets.answer()
    ready = opened["ready"]
    result = {
        "target": IDLE_SOCKETS,
        "users": len(seed["event_tokens"]),
        "tokens": len(tokens),
        "workers": IDLE_WORKERS,
        "opened": opened,
        "established_on_server": connections,
        "hold_seconds": IDLE_HOLD_SECONDS,
        "checked": checked,
        "rss_mib": {"before": before, "held": held, "after_hold": after},
        "rss_mib_per_1000": after["total"] * 1000 / max(ready, 1),
        "rss_growth_mib_per_1000": (after["total"] - before["total"]) * 1000 / max(ready, 1),
    }
    run.log(
        f"events_idle: {ready:,} of {IDLE_SOCKETS:,} sockets ready in {opened['seconds']:.1f} s"
        f" ({opened['failed']} failed {opened['errors']}), {connections:,} established on the server,"
        f" {checked['ponged']:,} answered a ping after {IDLE_HOLD_SECONDS} s;"
        f" RSS {before['total']:.0f} -> {after['total']:.0f} MiB,"
        f" {result['rss_mib_per_1000']:.1f} MiB per 1,000 ({result['rss_growth_mib_per_1000']:.1f} growth)"
    )
    return result


def delivery_latency(env: dict, seed: dict) -> dict:
    users = seed["event_tokens"][: LATENCY_SOCKETS // 2]
    with (
        run.start("web", env, PORTS["web"]) as web,
        start_events("events", events_env(env), PORTS["events"]) as server,
    ):
        spec = {
            "url": f"ws://127.0.0.1:{server.port}/ws/events",
            "web_port": web.port,
            "users": users,
            "samples": LATENCY_SAMPLES,
            "warmup": LATENCY_WARMUP,
            "interval": LATENCY_INTERVAL,
            "parallel": OPENING,
            "version_base": int(time.time() * 1e6),
        }
        with client("latency", spec) as measuring:
            result = measuring.answer()
    result["sockets"] = 2 * len(users)
    run.log(
        f"events_latency: {len(result['from_send_ms'])} events on {result['sockets']} sockets;"
        f" from send p50 {result['p50_from_send_ms']:.1f} / p99 {result['p99_from_send_ms']:.1f} ms,"
        f" from the answer p50 {result['p50_from_answer_ms']:.1f}"
        f" / p99 {result['p99_from_answer_ms']:.1f} ms;"
        f" {result['missed']} missed, {result['misdelivered']} misdelivered, {result['echoes']} echoes"
    )
    return result


def rest_asgi_against_wsgi(bench: run.Bench, env: dict) -> dict:
    """The REST rows against the ASGI side and the WSGI gunicorn, interleaved as bench/run.py
    runs its contenders (each pinned to the servers' CPU, one worker there)."""
    scenarios = [s for s in run.SCENARIOS if s.name in REST_ROWS]
    with contextlib.ExitStack() as stack:
        live = {
            "wsgi": run.Contender("wsgi", stack.enter_context(run.start("wsgi", env, PORTS["wsgi"]))),
            "asgi": run.Contender("asgi", stack.enter_context(start_events("asgi", env, PORTS["asgi"]))),
        }
        bench.fetch_etags(live)
        throughput = bench.throughput(live, scenarios)
        peaks = {
            name: {c: run.median(r["rps"] for r in runs) for c, runs in by.items()}
            for name, by in throughput.items()
        }
        fixed_rate = bench.fixed_rate(live, peaks, scenarios)
        memory = bench.memory(live)
    return {"throughput": throughput, "fixed_rate": fixed_rate, "memory": memory}


def markdown(report: dict) -> str:
    """The live events' tables, for the rows the report holds."""
    lines = []
    if idle := report.get("events_idle"):
        opened, rss = idle["opened"], idle["rss_mib"]
        lines += [
            "",
            f"Idle sockets held by the events server ({idle['workers']} workers, gunicorn + EventsWorker;"
            f" {idle['tokens']:,} tokens of {idle['users']} users):",
            "",
            "| sockets asked | ready | established (server side) | answered a ping after the hold "
            "| RSS before → after the hold, MiB | RSS per 1,000 sockets | growth per 1,000 |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {idle['target']:,} | {opened['ready']:,} | {idle['established_on_server']:,} "
            f"| {idle['checked']['ponged']:,} ({idle['hold_seconds']} s) "
            f"| {rss['before']['total']:.0f} → {rss['after_hold']['total']:.0f} "
            f"| {idle['rss_mib_per_1000']:.1f} MiB | {idle['rss_growth_mib_per_1000']:.1f} MiB |",
        ]
    if latency := report.get("events_latency"):
        lines += [
            "",
            f"Event delivery, sync report (WSGI) → the other device's socket (ASGI, through Redis),"
            f" {latency['sockets']:,} sockets open, one report at a time:",
            "",
            "| samples | from just before the POST: p50 / p99 ms | from the POST's answer: p50 / p99 ms "
            "| missed |",
            "|---:|---:|---:|---:|",
            f"| {len(latency['from_send_ms'])} "
            f"| {latency['p50_from_send_ms']:.1f} / {latency['p99_from_send_ms']:.1f} "
            f"| {latency['p50_from_answer_ms']:.1f} / {latency['p99_from_answer_ms']:.1f} "
            f"| {latency['missed']} |",
        ]
    if rest := report.get("rest_asgi"):
        lines += [
            "",
            "REST rows served by the ASGI side (gunicorn + EventsWorker) against WSGI gunicorn (gthread):",
            "",
            "| scenario | WSGI req/s | ASGI req/s | ASGI ÷ WSGI | WSGI CPU ms | ASGI CPU ms "
            "| WSGI p99 ms | ASGI p99 ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, by in rest["throughput"].items():
            rps = {c: run.median(r["rps"] for r in by[c]) for c in ("wsgi", "asgi")}
            cpu = {c: run.median(r["cpu_ms_per_request"] for r in by[c]) for c in ("wsgi", "asgi")}
            p99 = {c: rest["fixed_rate"].get(name, {}).get(c, {}).get("p99_ms") for c in ("wsgi", "asgi")}
            lines.append(
                f"| {name} | {rps['wsgi']:.0f} | {rps['asgi']:.0f} | **{rps['asgi'] / rps['wsgi']:.2f}x** "
                f"| {cpu['wsgi']:.2f} | {cpu['asgi']:.2f} | {_ms(p99['wsgi'])} | {_ms(p99['asgi'])} |"
            )
    return "\n".join(lines) + ("\n" if lines else "")


def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f}"


# ---------------------------------------------------------------- the client side


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank; NaN for no values (every event missed)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)] if ordered else math.nan


def say(message: dict) -> None:
    print(json.dumps(message), flush=True)


async def read_command() -> dict:
    return json.loads(await asyncio.to_thread(sys.stdin.readline) or '{"do": "close"}')


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:120]


async def open_socket(url: str, token: str):
    """A socket signed in with `token` in the upgrade's Authorization header, once it has
    received its `ready`."""
    from websockets.asyncio.client import connect

    socket = await connect(
        url,
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=60,
        close_timeout=5,
        ping_interval=None,  # the server pings
    )
    first = json.loads(await asyncio.wait_for(socket.recv(), 60))
    if first.get("type") != "ready":
        await socket.close()
        raise RuntimeError(f"first message {first.get('type')!r}")
    return socket


async def open_many(url: str, tokens: list[str], count: int, parallel: int) -> tuple[list, dict]:
    limit = asyncio.Semaphore(parallel)

    async def one(n: int):
        async with limit:
            return await open_socket(url, tokens[n % len(tokens)])

    results = await asyncio.gather(*(one(n) for n in range(count)), return_exceptions=True)
    errors = collections.Counter(describe(r) for r in results if isinstance(r, BaseException))
    return [r for r in results if not isinstance(r, BaseException)], errors


async def ping(socket) -> bool:
    """The app's own ping: True when the socket answers with a pong."""
    try:
        await socket.send('{"type": "ping"}')
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 30))
            if message.get("type") == "pong":
                return True
    except Exception:
        return False


async def close_all(sockets: list, parallel: int) -> None:
    limit = asyncio.Semaphore(parallel)

    async def one(socket):
        async with limit:
            with contextlib.suppress(Exception):
                await socket.close()

    await asyncio.gather(*(one(s) for s in sockets))


async def hold_idle(spec: dict) -> None:
    started = time.perf_counter()
    sockets, errors = await open_many(spec["url"], spec["tokens"], spec["sockets"], spec["parallel"])
    say(
        {
            "ready": len(sockets),
            "failed": sum(errors.values()),
            "errors": dict(errors.most_common(5)),
            "seconds": time.perf_counter() - started,
        }
    )
    limit = asyncio.Semaphore(spec["parallel"])

    async def checked(socket):
        async with limit:
            return await ping(socket)

    while (await read_command())["do"] == "ping":
        answers = await asyncio.gather(*(checked(s) for s in sockets))
        say({"sockets": len(sockets), "ponged": sum(answers)})
    await close_all(sockets, spec["parallel"])
    say({"closed": len(sockets)})


async def post(port: int, token: str, body: bytes) -> tuple[int, float, float]:
    """POST /api/sync/status on a fresh connection: (status, perf_counter just before the
    request is written, perf_counter when its status line arrives)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = (
            "POST /api/sync/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        sent = time.perf_counter()
        writer.write(head.encode() + body)
        status_line = await reader.readline()
        answered = time.perf_counter()
        await reader.read()
    finally:
        writer.close()
    return int(status_line.split()[1]), sent, answered


async def measure_latency(spec: dict) -> None:
    """Each user's laptop reports a new version; its phone's socket hears of it. The laptops'
    sockets are open too, without echo (`?echo=0`): they must hear nothing."""
    users, url, parallel = spec["users"], spec["url"], spec["parallel"]
    phones, errors = await open_many(url, [u["phone"] for u in users], len(users), parallel)
    laptops, laptop_errors = await open_many(
        f"{url}?echo=0", [u["laptop"] for u in users], len(users), parallel
    )
    if errors or laptop_errors:
        raise RuntimeError(f"sockets failed: {dict(errors + laptop_errors)}")
    waiting: dict[int, asyncio.Future] = {}
    unexpected = collections.Counter()

    async def listen(socket, user: int):
        async for raw in socket:
            arrived = time.perf_counter()
            event = json.loads(raw)
            future = waiting.get(event.get("data", {}).get("sync_version"))
            if event.get("type") == "sync.version" and future is not None and not future.done():
                future.set_result((arrived, user, event))
            else:
                unexpected[event.get("type")] += 1

    async def echo(socket):
        async for _ in socket:
            unexpected["echo"] += 1

    listeners = [asyncio.create_task(listen(s, n)) for n, s in enumerate(phones)]
    listeners += [asyncio.create_task(echo(s)) for s in laptops]
    loop = asyncio.get_running_loop()
    from_send, from_answer, statuses = [], [], collections.Counter()
    missed = misdelivered = 0
    for k in range(spec["warmup"] + spec["samples"]):
        user = k % len(users)
        version = spec["version_base"] + k
        body = json.dumps(
            {
                "device_id": "laptop",
                "sync_version": version,
                "data_hash": hashlib.sha256(str(version).encode()).hexdigest(),
            }
        ).encode()
        waiting[version] = heard = loop.create_future()
        status, sent, answered = await post(spec["web_port"], users[user]["laptop"], body)
        statuses[status] += 1
        try:
            arrived, heard_by, event = await asyncio.wait_for(heard, MISSED_AFTER_SECONDS)
        except TimeoutError:
            missed += 1
            continue
        finally:
            del waiting[version]
        if heard_by != user or event["source_device"] != "laptop":
            misdelivered += 1
        elif k >= spec["warmup"]:
            from_send.append((arrived - sent) * 1000)
            from_answer.append((arrived - answered) * 1000)
        await asyncio.sleep(spec["interval"])
    for task in listeners:
        task.cancel()
    await close_all(phones + laptops, parallel)
    say(
        {
            "from_send_ms": from_send,
            "from_answer_ms": from_answer,
            "p50_from_send_ms": percentile(from_send, 0.5),
            "p99_from_send_ms": percentile(from_send, 0.99),
            "p50_from_answer_ms": percentile(from_answer, 0.5),
            "p99_from_answer_ms": percentile(from_answer, 0.99),
            "statuses": {str(code): n for code, n in statuses.items()},
            "missed": missed,
            "misdelivered": misdelivered,
            "echoes": unexpected["echo"],
            "unexpected": dict(unexpected),
        }
    )


def main() -> None:
    mode = sys.argv[1]
    spec = json.loads(sys.stdin.readline())
    asyncio.run({"idle": hold_idle, "latency": measure_latency}[mode](spec))


if __name__ == "__main__":
    main()
