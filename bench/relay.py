"""The AI relay's rows of the benchmark (bench/README.md, "AI relay"), run by bench/run.py:

- relay_overhead: the latency the relay (POST /api/ai/v1/chat/completions on the ASGI side,
  the Procfile's `events` entry) adds to a small chat completion, against the same request
  sent straight to the provider: one at a time, 8 at a time, and a stream's first byte. The
  two targets alternate, round after round (A B, B A, ...);
- relay_streams: 1,000 slow streams (10 s each) through the ASGI server, two workers as on a
  2-core box, sent all at once, then evenly over 10 s (about 1,000 held at once by the end):
  how many end well, their first byte, the server's peak RSS, threads and open files, and
  the connections to PostgreSQL and Redis; and a REST read's latency on the WSGI `web`
  server and on the ASGI server, without the streams and during them.

The provider is testing.fake_openai in a process of its own on the load CPU (a provider is
another machine in production), reached through an AI service and model aliases written to
the benchmark database; its key is in the relay's environment, as in production. The relay
runs with PostgreSQL and Redis as the other rows, on the servers' CPU, budgets off
(AI_RELAY_*=0). The clients are bench/relay_client.py, processes of their own on the load
CPU. Open-file limits are raised here before anything starts: the servers and the clients
inherit them.
"""

import collections
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis

from bench import events, run
from testing import servers

PROVIDER = "bench-relay-provider"
PROVIDER_KEY = "sk-bench-relay-provider"
PROVIDER_KEY_ENV = "BENCH_RELAY_PROVIDER_KEY"
STREAM_SECONDS = 3 if run.QUICK else 10
# The provider's model names: one that answers at once, one that streams 2 chunks a second.
FAST_MODEL = "gpt-4o-mini"
SLOW_MODEL = f"stream-{STREAM_SECONDS}-{2 * STREAM_SECONDS}"
ALIASES = {"bench-relay-fast": FAST_MODEL, "bench-relay-slow": SLOW_MODEL}
BUDGETS_OFF = {
    f"AI_RELAY_{name}": "0"
    for name in ("REQUESTS_PER_DAY", "REQUESTS_PER_MONTH", "TOKENS_PER_DAY", "TOKENS_PER_MONTH")
}
WORKERS = 2
CONCURRENCY = 8
# (requests in flight, requests per round, streamed) of each overhead phase.
PHASES = {
    "sequential": (1, 100 if run.QUICK else 400, False),
    "concurrent": (CONCURRENCY, 200 if run.QUICK else 800, False),
    "first_byte": (1, 50 if run.QUICK else 200, True),
}
WARMUP = 20
TARGETS = ("direct", "relay")
STREAMS = 200 if run.QUICK else 1_000
# The streams sent at once, then evenly over a stream's length: a steady rate (100 a second in
# the full row) that holds them all at once by its end.
SPREADS = {"at_once": 0.0, "spread": float(STREAM_SECONDS)}
REST_PATH = "/api/ai/scripts"
PROBE_INTERVAL = 0.05  # a GET to each server every 50 ms at most: 20/s each
ALONE_SECONDS = 4 if run.QUICK else 10
SAMPLE_SECONDS = 0.25
PORTS = {"provider": 3851, "relay": 3852, "web": 3853}
ROWS = ("relay_overhead", "relay_streams")


# ---------------------------------------------------------------- set-up


def measure(env: dict, seed: dict) -> dict:
    """The rows BENCH_ONLY selects (all of them when it is empty)."""
    selected = [row for row in ROWS if not run.ONLY or row in run.ONLY]
    if not selected:
        return {}
    events.raise_open_files()
    # A token each for 1,000 devices of 500 users: at most two requests of a user in flight.
    tokens = [token for devices in seed["event_tokens"] for token in devices.values()]
    results = {}
    with provider(PORTS["provider"]) as base_url:
        providers_save(env, base_url)
        relay = relay_env(env)
        if "relay_overhead" in selected:
            results["relay_overhead"] = overhead(relay, base_url, tokens[::2][:CONCURRENCY])
        if "relay_streams" in selected:
            results["relay_streams"] = held_streams(env, relay, tokens, seed["tokens"]["main"])
    return results


PINNED_TO_LOAD = ["taskset", "-c", run.LOAD_CPU, sys.executable]


@contextlib.contextmanager
def provider(port: int) -> Iterator[str]:
    """testing.fake_openai on `port`, on the load CPU; yields its base URL (…/v1)."""
    log = run.RESULTS / "relay-provider.log"
    with log.open("ab") as errors:
        process = subprocess.Popen(
            [*PINNED_TO_LOAD, "-m", "testing.fake_openai", "--port", str(port), "--key", PROVIDER_KEY],
            cwd=run.PROJECT,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            start_new_session=True,
        )
    try:
        line = process.stdout.readline()
        if not line.startswith("listening on "):
            raise servers.ServerFailed(f"the fake provider did not start: {log.read_text()[-2000:]}")
        yield line.split()[-1]
    finally:
        servers.stop(process)


def providers_save(env: dict, base_url: str) -> None:
    """The provider as an AI service of the benchmark database, and the aliases routed to it."""
    code = (
        "from ai_scripts.models import AIService, ModelAlias, ModelRoute\n"
        f"service, _ = AIService.objects.update_or_create(name={PROVIDER!r}, defaults=dict(\n"
        f"    base_url={base_url!r}, api_key_env={PROVIDER_KEY_ENV!r}, priority=1, enabled=True,\n"
        "    request_timeout_seconds=60))\n"
        f"for name, model in {ALIASES!r}.items():\n"
        "    alias, _ = ModelAlias.objects.update_or_create(name=name, defaults=dict(enabled=True))\n"
        "    ModelRoute.objects.update_or_create(alias=alias, service=service, defaults=dict(model=model))\n"
    )
    servers.manage(env, "shell", "-c", code)


def relay_env(env: dict) -> dict:
    """The benchmark's environment for the ASGI server: the provider's key, no budgets, and
    room for a user's requests in flight (each client keeps at most two per user)."""
    return {
        **env,
        **BUDGETS_OFF,
        PROVIDER_KEY_ENV: PROVIDER_KEY,
        "AI_RELAY_STREAMS_PER_USER": "16",
        "WEB_CONCURRENCY": str(WORKERS),
    }


def spawn(spec: dict):
    return events.client("client", spec, module="bench.relay_client")


def ask(client: events.Client, **command) -> dict:
    client.send(command)
    return client.answer()


# ---------------------------------------------------------------- relay_overhead


def overhead(server_env: dict, base_url: str, tokens: list[str]) -> dict:
    """Each phase for the provider straight and through the relay, alternating, run.RUNS rounds."""
    answers = {phase: {target: [] for target in TARGETS} for phase in PHASES}
    cpu = {phase: [] for phase in PHASES}
    with events.start_events("relay-overhead", server_env, PORTS["relay"]) as server:
        relay = run.Contender("relay", server)
        targets = {
            "direct": {"url": f"{base_url}/chat/completions", "model": FAST_MODEL, "tokens": [PROVIDER_KEY]},
            "relay": {
                "url": f"{server.base_url}/api/ai/v1/chat/completions",
                "model": "bench-relay-fast",
                "tokens": tokens,
            },
        }
        with spawn({"targets": targets}) as client:
            for phase in PHASES:
                for target in TARGETS:
                    completions(client, target, phase, count=WARMUP)
            for number in range(run.RUNS):
                for phase, (_, count, _) in PHASES.items():
                    for target in TARGETS if number % 2 == 0 else TARGETS[::-1]:
                        before = relay.cpu_seconds()
                        answers[phase][target].append(completions(client, target, phase, count=count))
                        if target == "relay":
                            cpu[phase].append((relay.cpu_seconds() - before) * 1000 / count)
    result = {"workers": WORKERS, "rounds": run.RUNS}
    for phase, (concurrency, count, stream) in PHASES.items():
        entry = {"concurrency": concurrency, "requests": count, "stream": stream}
        for target, runs in answers[phase].items():
            ms = [sample for answer in runs for sample in answer["ms"]]
            entry[target] = {
                "p50_ms": events.percentile(ms, 0.5),
                "p99_ms": events.percentile(ms, 0.99),
                "samples": len(ms),
                "per_second": run.median(answer["per_second"] for answer in runs),
            }
        # Differences of percentiles, not percentiles of differences.
        entry["added_p50_ms"] = entry["relay"]["p50_ms"] - entry["direct"]["p50_ms"]
        entry["added_p99_ms"] = entry["relay"]["p99_ms"] - entry["direct"]["p99_ms"]
        entry["added_p50_ms_by_round"] = [
            relay["p50_ms"] - direct["p50_ms"] for direct, relay in zip(*answers[phase].values(), strict=True)
        ]
        entry["relay_cpu_ms_per_request"] = run.median(cpu[phase])
        result[phase] = entry
        run.log(
            f"relay_overhead {phase}, p50 / p99: direct {entry['direct']['p50_ms']:.2f}"
            f" / {entry['direct']['p99_ms']:.2f} ms,"
            f" relay {entry['relay']['p50_ms']:.2f} / {entry['relay']['p99_ms']:.2f} ms,"
            f" added {entry['added_p50_ms']:.2f} / {entry['added_p99_ms']:.2f} ms,"
            f" relay CPU {entry['relay_cpu_ms_per_request']:.2f} ms a request"
        )
    return result


def completions(client: events.Client, target: str, phase: str, *, count: int) -> dict:
    """The client's answer to `count` completions of `phase` to `target`, every one a 200."""
    concurrency, _, stream = PHASES[phase]
    answer = ask(client, do="requests", target=target, count=count, concurrency=concurrency, stream=stream)
    assert answer["statuses"] == {"200": count}, (target, phase, answer["statuses"], answer["errors"])
    return answer


# ---------------------------------------------------------------- relay_streams


class Sampler:
    """The ASGI server's workers every SAMPLE_SECONDS, in a thread: their RSS, threads and open
    files summed, and the connections PostgreSQL and Redis hold (for every client); the
    largest of each is kept."""

    def __init__(self, server: servers.Server, env: dict):
        self.workers = server.pids()[1:]
        self.env = env
        self.peak = dict.fromkeys(
            ("rss_mib", "threads", "open_files", "database_connections", "redis_clients"), 0
        )
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopping.set()
        self.thread.join()

    def _run(self) -> None:
        cache = redis.Redis.from_url(self.env["REDIS_URL"])
        with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as database:
            while True:
                now = workers_now(self.workers)
                (now["database_connections"],) = database.execute(
                    "SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database()"
                ).fetchone()
                now["redis_clients"] = cache.info("clients")["connected_clients"] - 1
                self.peak = {key: max(value, now[key]) for key, value in self.peak.items()}
                if self.stopping.wait(SAMPLE_SECONDS):
                    cache.close()
                    return


def workers_now(workers: list[int]) -> dict:
    """The workers' RSS (MiB), threads and open files, summed."""
    return {
        "rss_mib": sum(run.status_kib(pid, "VmRSS") for pid in workers) / 1024,
        "threads": sum(run.status_kib(pid, "Threads") for pid in workers),
        "open_files": sum(len(list(Path(f"/proc/{pid}/fd").iterdir())) for pid in workers),
    }


def held_streams(env: dict, server_env: dict, tokens: list[str], rest_token: str) -> dict:
    """STREAMS streams through the ASGI server, sent at once and then spread out, while a REST
    read is timed on it and on the WSGI server; the same read timed first without streams."""
    with (
        run.start("relay-web", env, PORTS["web"]) as web,
        events.start_events("relay-streams", server_env, PORTS["relay"]) as server,
    ):
        rest = {
            name: {"url": f"{base}{REST_PATH}", "token": rest_token}
            for name, base in (("wsgi", web.base_url), ("asgi", server.base_url))
        }
        relay = {
            "url": f"{server.base_url}/api/ai/v1/chat/completions",
            "model": "bench-relay-slow",
            "tokens": tokens,
        }
        with (
            spawn({"targets": rest, "interval": PROBE_INTERVAL}) as probe,
            spawn({"targets": {"relay": relay}}) as client,
        ):
            ask(probe, do="probe", seconds=1)
            result = {
                "workers": WORKERS,
                "streams": STREAMS,
                "stream_seconds": STREAM_SECONDS,
                "idle": workers_now(server.pids()[1:]),
                "rest_alone": ask(probe, do="probe", seconds=ALONE_SECONDS),
            }
            for name, spread in SPREADS.items():
                result[name] = streams_sent(env, server, probe, client, spread)
    alone = result["rest_alone"]
    for name in SPREADS:
        held, during = result[name], result[name]["rest_during"]
        run.log(
            f"relay_streams {name}: {held['completed']:,} of {STREAMS:,} completed, errors {held['errors']},"
            f" first byte p50 {held['p50_first_byte_ms']:.0f} / p99 {held['p99_first_byte_ms']:.0f} ms,"
            f" {held['wall_seconds']:.1f} s in all; peak {held['peak']}; recorded {held['recorded']};"
            f" server log {held['log_errors']}; REST p99 alone / during: "
            + ", ".join(f"{n} {alone[n]['p99_ms']:.1f} / {during[n]['p99_ms']:.1f} ms" for n in alone)
        )
    return result


def streams_sent(env: dict, server, probe, client, spread: float) -> dict:
    """STREAMS streams sent evenly over `spread` seconds (0: at once), each read to its end."""
    since, log_from = datetime.now(UTC), len(server.log())
    with Sampler(server, env) as sampler:
        client.send({"do": "streams", "target": "relay", "count": STREAMS, "spread_seconds": spread})
        during = ask(probe, do="probe", seconds=spread + STREAM_SECONDS)
        held = client.answer()
    time.sleep(2)  # the usage of the last streams is written after their last byte
    return {
        **held,
        "spread_seconds": spread,
        "peak": sampler.peak,
        "after": workers_now(server.pids()[1:]),
        "rest_during": during,
        "recorded": recorded(env["DATABASE_URL"], since),
        "log_errors": log_errors(server.log()[log_from:]),
    }


def recorded(database_url: str, since: datetime) -> dict:
    """The relay's records of the slow alias's requests since `since`, by outcome."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT outcome, count(*) FROM ai_requests"
            " WHERE model_alias = %s AND created_at >= %s GROUP BY outcome",
            ("bench-relay-slow", since),
        ).fetchall()
    return dict(rows)


def log_errors(log: str) -> dict:
    """The server's ERROR lines (JSON, persona's log format), counted by logger, message and the
    last line of their exception."""
    counted = collections.Counter()
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("level") == "ERROR":
            last = (entry.get("exception") or "").strip().splitlines()[-1:]
            counted[" / ".join([entry.get("logger", ""), entry.get("message", ""), *last])[:200]] += 1
    return dict(counted.most_common(5))


# ---------------------------------------------------------------- the report


def markdown(report: dict) -> str:
    """The relay's tables, for the rows the report holds."""
    lines = []
    if result := report.get("relay_overhead"):
        lines += [
            "",
            f"AI relay overhead: a small chat completion straight to the provider and through the relay"
            f" ({result['workers']} workers), {result['rounds']} alternating rounds, ms:",
            "",
            "| requests | direct p50 / p99 | relay p50 / p99 | added p50 / p99 (goal p50 ≤ 2) "
            "| added p50 by round | req/s direct / relay | relay CPU ms a request |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        labels = {
            "sequential": "one at a time",
            "concurrent": f"{CONCURRENCY} at a time",
            "first_byte": "streamed, time to first byte",
        }
        for phase, label in labels.items():
            entry = result[phase]
            direct, relay = entry["direct"], entry["relay"]
            lines.append(
                f"| {label} | {direct['p50_ms']:.2f} / {direct['p99_ms']:.2f} "
                f"| {relay['p50_ms']:.2f} / {relay['p99_ms']:.2f} "
                f"| **{entry['added_p50_ms']:.2f}** / {entry['added_p99_ms']:.2f} "
                f"| {' · '.join(f'{added:.2f}' for added in entry['added_p50_ms_by_round'])} "
                f"| {direct['per_second']:,.0f} / {relay['per_second']:,.0f} "
                f"| {entry['relay_cpu_ms_per_request']:.2f} |"
            )
    if result := report.get("relay_streams"):
        lines += [
            "",
            f"{result['streams']:,} streams of {result['stream_seconds']} s through the relay"
            f" ({result['workers']} workers; RSS {result['idle']['rss_mib']:.0f} MiB and"
            f" {result['idle']['threads']} threads idle), peaks of the workers' sums:",
            "",
            "| sent | completed | errors | first byte p50 / p99 ms | last first byte | wall "
            "| peak RSS MiB | peak threads | peak open files | PostgreSQL / Redis connections |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name in SPREADS:
            held, peak = result[name], result[name]["peak"]
            sent = "at once" if not held["spread_seconds"] else f"over {held['spread_seconds']:.0f} s"
            errors = ", ".join(f"{n} {kind}" for kind, n in held["errors"].items()) or "0"
            lines.append(
                f"| {sent} | {held['completed']:,} | {errors} "
                f"| {held['p50_first_byte_ms']:.0f} / {held['p99_first_byte_ms']:.0f} "
                f"| {held['all_first_bytes_after_s']:.1f} s | {held['wall_seconds']:.1f} s "
                f"| {peak['rss_mib']:.0f} | {peak['threads']:,} | {peak['open_files']:,} "
                f"| {peak['database_connections']} / {peak['redis_clients']:,} |"
            )
        lines += [
            "",
            f"GET {REST_PATH} on each server in turn, a round every {PROBE_INTERVAL * 1000:.0f} ms,"
            " p50 / p99 ms:",
            "",
            "| server | without streams | streams sent at once | streams spread out |",
            "|---|---:|---:|---:|",
        ]
        for name, label in (("wsgi", "WSGI `web`"), ("asgi", "ASGI (the relay's)")):
            cells = [result["rest_alone"][name]] + [result[spread]["rest_during"][name] for spread in SPREADS]
            lines.append(
                f"| {label} | " + " | ".join(f"{c['p50_ms']:.1f} / {c['p99_ms']:.1f}" for c in cells) + " |"
            )
    return "\n".join(lines) + ("\n" if lines else "")
