"""The benchmark suite: the app against a bare-WSGI floor and the Express peer, in one run.

    make bench                 # full run, ~20-30 minutes
    make bench BENCH_QUICK=1   # one short round of everything, for iteration

Starts on loopback the app (gunicorn, production settings, PostgreSQL + Redis), the floor
(bench/floor.py under the same gunicorn config) and the peer (bench/peers/express), seeds a
benchmark database of its own, then measures every scenario for the three contenders
interleaved (A B C, B C A, ...): closed-loop peaks with wrk, latency at a fixed rate below
the slowest peak with bench/loadgen.js, CPU time per request from /proc/<pid>/stat, memory
from /proc/<pid>/smaps_rollup, SQL statements per request counted on the wire, and backup
transfers with their peak worker memory; the live events (bench/events.py); backup
transfers of up to 1 GiB against the storage alone (bench/backup_transfers.py); and the AI
relay's overhead and held streams (bench/relay.py). Servers run
on CPU 0, load generators on CPU 1. Writes bench/results/<time>.json and .md (and latest.*),
and prints the tables.
"""

import contextlib
import hashlib
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from testing import servers

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
PEER = BENCH / "peers" / "express"
RESULTS = BENCH / "results"
PAYLOADS = RESULTS / "backup-payloads"
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
RUNS = 1 if QUICK else 3
SECONDS = 2 if QUICK else 5
WARMUP_SECONDS = 1 if QUICK else 2
RATE_SECONDS = 3 if QUICK else 6
BACKUP_REPEATS = 2 if QUICK else 10
# For iteration: BENCH_ONLY=scripts_200,sync_get,backups,logins measures just those (no tables);
# the live events' rows (bench/events.py) are events_idle, events_latency and rest_asgi, the
# backup transfers' (bench/backup_transfers.py) backup_transfers_fs and backup_transfers_s3, the AI
# relay's (bench/relay.py) relay_overhead and relay_streams.
ONLY = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
SERVER_CPU, LOAD_CPU = "0", "1"
MIB = 1024 * 1024
CONTENDERS = ("app", "floor", "peer")
PORTS = {"app": 3811, "floor": 3812, "peer": 3813}
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class Scenario:
    name: str
    method: str
    path: str
    user: str | None = "main"
    lua: str = "request.lua"
    headers: dict = field(default_factory=dict)
    etag: bool = False
    body: str | None = None
    connections: int = 16
    seconds_factor: float = 1.0
    fixed_rate: bool = True
    extra_env: dict = field(default_factory=dict)


# What the app sends for its configuration. No rule of the seeded one (bench/app_config.json)
# matches it, so the floor and the peer, which answer the defaults, answer as the app does.
APP_CLIENT = {"X-Platform": "android", "X-App-Version": "2.3.1"}
SCENARIOS = [
    Scenario("health", "GET", "/health", user=None),
    Scenario("scripts_200", "GET", "/api/ai/scripts"),
    Scenario("scripts_304", "GET", "/api/ai/scripts", etag=True),
    Scenario("sync_upsert", "POST", "/api/sync/status", lua="sync_upsert.lua"),
    Scenario("sync_get", "GET", "/api/sync/status/bench-1"),
    Scenario("config_read", "GET", "/api/config/app-config", user=None, headers=APP_CLIENT),
    Scenario(
        "login", "POST", "/api/auth/login", user=None, connections=4, seconds_factor=2, fixed_rate=False
    ),
    Scenario("backup_list_100", "GET", "/api/sync/backup", user="list-big", fixed_rate=False),
    Scenario("backup_list_100_tiny", "GET", "/api/sync/backup", user="list-tiny", fixed_rate=False),
]
MEASURED = [s for s in SCENARIOS if not ONLY or s.name in ONLY]


# ---------------------------------------------------------------- setup


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def ensure_tools() -> None:
    missing = [
        pkg
        for tool, pkg in (("wrk", "wrk"), ("node", "nodejs"), ("npm", "npm"), ("taskset", "util-linux"))
        if shutil.which(tool) is None
    ]
    if missing:
        log(f"installing {' '.join(missing)} with apt-get")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", *missing], check=True)
    lock = PEER / "package-lock.json"
    stamp = PEER / "node_modules" / ".bench-lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        log("npm ci in bench/peers/express")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=PEER, check=True)
        stamp.write_text(digest)


def database_urls() -> tuple[str, str]:
    """(benchmark database URL, Redis URL): DATABASE_URL's server with the database
    BENCH_DATABASE (persona_benchdata), and REDIS_URL (db 9 on 127.0.0.1 by default)."""
    base = urlsplit(os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres")
    name = os.environ.get("BENCH_DATABASE", "persona_benchdata")
    url = urlunsplit((base.scheme, base.netloc, f"/{name}", "", ""))
    return url, os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9"


def create_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def base_env(database_url: str, redis_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DEBUG="0",
        SECRET_KEY="bench-" + secrets.token_urlsafe(40),
        JWT_SECRET="bench-jwt-secret-that-is-long-enough-for-hs256",
        JWT_ACCESS_SECONDS="7200",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        # Limits still counted in Redis on every login, but never reached by the load.
        RATELIMIT_LOGIN_IP="1000000/m",
        RATELIMIT_LOGIN_EMAIL="1000000/m",
        RATELIMIT_BACKUP_USER="1000000/m",
        # glibc's allocator as the Procfile sets it.
        MALLOC_ARENA_MAX="2",
        MALLOC_MMAP_THRESHOLD_="1048576",
        PYTHONPATH=str(PROJECT),
        # The backups' payloads, for the app and the baselines alike (the seed's among them).
        BACKUP_STORAGE_DIR=str(PAYLOADS),
    )
    env.pop("WEB_CONCURRENCY", None)
    env.pop("GUNICORN_THREADS", None)
    return env


# ---------------------------------------------------------------- processes


class Contender:
    """One of the servers measured, started by testing.servers on its CPU."""

    def __init__(self, name: str, server: servers.Server):
        self.name, self.server, self.port = name, server, server.port

    def pids(self) -> list[int]:
        """The server's processes: the gunicorn master and its workers, or node."""
        return self.server.pids()

    def workers(self) -> list[int]:
        pids = self.pids()
        return pids[1:] if len(pids) > 1 else pids

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / CLK_TCK


def start(name: str, env: dict, port: int, project: Path = PROJECT):
    """The contender's server on SERVER_CPU, logging to bench/results/<name>.log; the app of
    another checkout (`project`) when given."""
    pinned = ["taskset", "-c", SERVER_CPU]
    log = RESULTS / f"{name}.log"
    if name == "peer":
        command = [*pinned, "node", str(PEER / "server.js")]
        return servers.serve(command, env=env, port=port, log=log, name=name)
    app = "bench.floor:application" if name == "floor" else "persona.wsgi"
    env = {**env, "PYTHONPATH": str(project)}
    return servers.gunicorn(env, app=app, prefix=pinned, port=port, log=log, cwd=project)


@contextmanager
def contenders(env: dict, ports: dict):
    with contextlib.ExitStack() as stack:
        yield {
            name: Contender(name, stack.enter_context(start(name, env, ports[name]))) for name in CONTENDERS
        }


def call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict | None = None,
    timeout: float = 60,
) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def memory(pid: int) -> dict:
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        values[key] = int(value.split()[0])
    return {
        "rss_mib": values["Rss"] / 1024,
        "pss_mib": values["Pss"] / 1024,
        "uss_mib": (values["Private_Clean"] + values["Private_Dirty"]) / 1024,
    }


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


# ---------------------------------------------------------------- counting SQL on the wire


class StatementCounter:
    """A loopback proxy to PostgreSQL that counts the statements clients send: simple
    queries ('Q') and extended-protocol executions ('E'), whatever the driver."""

    def __init__(self, target: tuple[str, int]):
        self.target, self.count, self.lock = target, 0, threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._client_to_server, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _client_to_server(self, source, sink):
        buffer, typed = b"", False
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
                buffer += chunk
                while True:
                    header = 1 if typed else 0
                    if len(buffer) < header + 4:
                        break
                    length = int.from_bytes(buffer[header : header + 4], "big")
                    if len(buffer) < header + length:
                        break
                    if typed and buffer[:1] in (b"Q", b"E"):
                        with self.lock:
                            self.count += 1
                    elif not typed:
                        code = int.from_bytes(buffer[4:8], "big")
                        typed = code not in (80877103, 80877104)  # SSL / GSS encryption requests
                    buffer = buffer[header + length :]
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                sock.close()

    @staticmethod
    def _pipe(source, sink):
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                sock.close()


# ---------------------------------------------------------------- load


def wrk(port: int, scenario: Scenario, seconds: float, env: dict) -> dict:
    command = [
        "taskset",
        "-c",
        LOAD_CPU,
        "wrk",
        "-t1",
        f"-c{scenario.connections}",
        f"-d{round(seconds)}s",
        "--timeout",
        "30s",
        "-s",
        str(BENCH / "lua" / scenario.lua),
        f"http://127.0.0.1:{port}",
    ]
    output = subprocess.run(
        command,
        env={**os.environ, "BENCH_LUA_DIR": str(BENCH / "lua"), **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH_JSON "))
    result = json.loads(line.removeprefix("BENCH_JSON "))
    # Only answers that did the work count: a 503 or 429 (a busy password hash, a limit) is
    # the server refusing work, not doing it.
    result["ok"] = sum(n for code, n in result["statuses"].items() if code.startswith(("2", "3")))
    result["rps"] = result["ok"] / result["seconds"]
    return result


def loadgen(port: int, spec: dict) -> subprocess.Popen:
    spec = {**spec, "url": f"http://127.0.0.1:{port}{spec['path']}"}
    return subprocess.Popen(
        ["taskset", "-c", LOAD_CPU, "node", str(BENCH / "loadgen.js"), json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
    )


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Bench:
    def __init__(self, seed: dict, env: dict):
        self.seed, self.env = seed, env
        self.etags: dict[str, str] = {}

    def scenario_env(self, name: str, scenario: Scenario) -> dict:
        env = {
            "BENCH_METHOD": scenario.method,
            "BENCH_PATH": scenario.path,
            "BENCH_VERSION_BASE": str(int(time.time() * 1e6)),
            "BENCH_DEVICES": str(self.seed["devices"]),
        }
        if scenario.user:
            env["BENCH_TOKEN"] = self.seed["tokens"][scenario.user]
        if scenario.etag:
            env["BENCH_ETAG"] = self.etags[name]
        if scenario.headers:
            env["BENCH_HEADERS"] = "\n".join(f"{key}: {value}" for key, value in scenario.headers.items())
        if scenario.name == "login":
            env["BENCH_BODY"] = self.login_body().decode()
        return env

    def login_body(self) -> bytes:
        return json.dumps({"email": self.seed["main_email"], "password": self.seed["password"]}).encode()

    def headers(self, user: str | None = "main") -> dict:
        return {"Authorization": f"Bearer {self.seed['tokens'][user]}"} if user else {}

    def fetch_etags(self, live: dict) -> None:
        for name, server in live.items():
            status, headers, _ = call(server.port, "GET", "/api/ai/scripts", headers=self.headers())
            assert status == 200, (name, status)
            self.etags[name] = headers["ETag"]

    def count_statements(self, env: dict, database_url: str) -> dict:
        """SQL statements per request of each scenario, counted on the wire."""
        target = urlsplit(database_url)
        counter = StatementCounter((target.hostname, target.port or 5432))
        proxied = urlunsplit(
            (target.scheme, f"{target.username}@127.0.0.1:{counter.port}", target.path, "", "")
        )
        counts = {name: {} for name in CONTENDERS}
        ports = {name: port + 100 for name, port in PORTS.items()}
        with contenders(
            {**env, "DATABASE_URL": proxied, "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "1"}, ports
        ) as live:
            self.fetch_etags(live)
            for name, server in live.items():
                probes = self.probes(name)
                for label, (method, path, body, headers, expected, repeat) in probes.items():
                    call(server.port, method, path, body(0), headers)  # connection set up, caches warm
                    before = counter.count
                    for n in range(1, repeat + 1):
                        status, _, answer = call(server.port, method, path, body(n), headers)
                        assert status == expected, (name, label, status, answer[:300])
                    time.sleep(0.05)
                    counts[name][label] = (counter.count - before) / repeat
        counter.listener.close()
        return counts

    def probes(self, name: str) -> dict:
        base = int(time.time() * 1e6)
        tiny = "tiny backup payload"
        upload = json.dumps(
            {"encrypted_data": tiny, "checksum": hashlib.sha256(tiny.encode()).hexdigest()}
        ).encode()

        def fixed(body=None):
            return lambda n: body

        def sync(n):
            return json.dumps(
                {"device_id": "bench-2", "sync_version": base + n, "data_hash": f"h{n}"}
            ).encode()

        main, uploader = self.headers(), self.headers("uploader")
        return {
            "health": ("GET", "/health", fixed(), {}, 200, 5),
            "scripts_200": ("GET", "/api/ai/scripts", fixed(), main, 200, 5),
            "scripts_304": (
                "GET",
                "/api/ai/scripts",
                fixed(),
                {**main, "If-None-Match": self.etags[name]},
                304,
                5,
            ),
            "sync_upsert": ("POST", "/api/sync/status", sync, main, 200, 5),
            "sync_get": ("GET", "/api/sync/status/bench-1", fixed(), main, 200, 5),
            "config_read": ("GET", "/api/config/app-config", fixed(), APP_CLIENT, 200, 5),
            "login": ("POST", "/api/auth/login", fixed(self.login_body()), {}, 200, 2),
            "backup_list_100": ("GET", "/api/sync/backup", fixed(), self.headers("list-big"), 200, 3),
            "backup_list_100_tiny": ("GET", "/api/sync/backup", fixed(), self.headers("list-tiny"), 200, 3),
            "backup_upload": ("POST", "/api/sync/backup", fixed(upload), uploader, 201, 3),
            "backup_latest": ("GET", "/api/sync/backup/latest", fixed(), self.headers("latest-1m"), 200, 3),
        }

    def throughput(self, live: dict, scenarios=None) -> dict:
        names = list(live)
        scenarios = MEASURED if scenarios is None else scenarios
        results = {s.name: {name: [] for name in names} for s in scenarios}
        for scenario in scenarios:
            seconds = SECONDS * scenario.seconds_factor
            for name, server in live.items():
                wrk(server.port, scenario, WARMUP_SECONDS, self.scenario_env(name, scenario))
            for run in range(RUNS):
                order = names[run % len(names) :] + names[: run % len(names)]
                for name in order:
                    server = live[name]
                    cpu_before = server.cpu_seconds()
                    result = wrk(server.port, scenario, seconds, self.scenario_env(name, scenario))
                    result["cpu_ms_per_request"] = (
                        (server.cpu_seconds() - cpu_before) * 1000 / max(result["ok"], 1)
                    )
                    results[scenario.name][name].append(result)
            log(
                f"{scenario.name}: "
                + ", ".join(
                    f"{name} {median(r['rps'] for r in runs):.1f} req/s"
                    f" {median(r['cpu_ms_per_request'] for r in runs):.2f} ms CPU"
                    for name, runs in results[scenario.name].items()
                )
            )
        return results

    def fixed_rate(self, live: dict, peaks: dict, scenarios=None) -> dict:
        """p50/p99 at one rate for all contenders: half the slowest contender's peak."""
        names = list(live)
        results = {}
        for scenario in MEASURED if scenarios is None else scenarios:
            if not scenario.fixed_rate:
                continue
            rate = max(10, round(0.5 * min(peaks[scenario.name].values())))
            results[scenario.name] = {"rate": rate}
            for name in names:
                spec = self.loadgen_spec(name, scenario, rate, RATE_SECONDS)
                results[scenario.name][name] = json.loads(loadgen(live[name].port, spec).communicate()[0])
            log(
                f"{scenario.name} at {rate}/s p99: "
                + ", ".join(f"{n} {results[scenario.name][n]['p99_ms']:.1f} ms" for n in names)
            )
        return results

    def loadgen_spec(self, name: str, scenario: Scenario, rate: int, seconds: float) -> dict:
        headers = {**self.headers(scenario.user), **scenario.headers}
        if scenario.etag:
            headers["If-None-Match"] = self.etags[name]
        spec = {
            "path": scenario.path,
            "method": scenario.method,
            "rate": rate,
            "seconds": seconds,
            "connections": 16,
            "headers": {**headers, "Content-Type": "application/json"},
        }
        if scenario.name == "sync_upsert":
            spec["body_template"] = '{"device_id": "bench-{d}", "sync_version": {n}, "data_hash": "h{n}"}'
            spec["version_base"] = int(time.time() * 1e6)
            spec["devices"] = self.seed["devices"]
        return spec

    def reads_during_logins(self, live: dict, peaks: dict) -> dict:
        """Template reads at a fixed rate, alone and while logins saturate the server."""
        scenario = next(s for s in SCENARIOS if s.name == "scripts_200")
        login = next(s for s in SCENARIOS if s.name == "login")
        rate = max(10, round(0.25 * min(peaks["scripts_200"].values())))
        results = {"rate": rate}
        for run in range(RUNS):
            for name in CONTENDERS[run % 3 :] + CONTENDERS[: run % 3]:
                port = live[name].port
                spec = self.loadgen_spec(name, scenario, rate, RATE_SECONDS)
                alone = json.loads(loadgen(port, spec).communicate()[0])
                logins = threading.Thread(
                    target=wrk, args=(port, login, RATE_SECONDS + 1, self.scenario_env(name, login))
                )
                logins.start()
                time.sleep(0.5)
                during = json.loads(loadgen(port, spec).communicate()[0])
                logins.join()
                entry = results.setdefault(name, {"alone": [], "during_logins": []})
                entry["alone"].append(alone)
                entry["during_logins"].append(during)
        for name in CONTENDERS:
            entry = results[name]
            entry["p99_alone_ms"] = median(r["p99_ms"] for r in entry["alone"])
            entry["p99_during_logins_ms"] = median(r["p99_ms"] for r in entry["during_logins"])
            entry["p99_ratio"] = entry["p99_during_logins_ms"] / entry["p99_alone_ms"]
        log(
            "template p99 alone / during logins: "
            + ", ".join(
                f"{n} {results[n]['p99_alone_ms']:.1f}/{results[n]['p99_during_logins_ms']:.1f} ms"
                for n in CONTENDERS
            )
        )
        return results

    def backups(self, live: dict) -> dict:
        results = {}
        payloads = {size: secrets.token_urlsafe(size)[:size] for size in (MIB, 10 * MIB)}
        for size, label in ((MIB, "1MiB"), (10 * MIB, "10MiB")):
            data = payloads[size]
            body = json.dumps(
                {"encrypted_data": data, "checksum": hashlib.sha256(data.encode()).hexdigest()}
            ).encode()
            user = "latest-1m" if size == MIB else "latest-10m"
            for kind in ("upload", "download"):
                key = f"backup_{kind}_{label}"
                results[key] = {name: {"seconds": [], "growth_mib": []} for name in CONTENDERS}
                for server in live.values():  # warm-up: the workers' connection buffers
                    for _ in range(2):
                        self.backup_request(server, kind, body, user)
                for run in range(BACKUP_REPEATS):
                    for name in CONTENDERS[run % 3 :] + CONTENDERS[: run % 3]:
                        seconds, growth = self.backup_request(live[name], kind, body, user)
                        results[key][name]["seconds"].append(seconds)
                        results[key][name]["growth_mib"].append(growth)
                for name in CONTENDERS:
                    entry = results[key][name]
                    entry["mb_per_s"] = size / MIB / median(entry["seconds"])
                    entry["peak_growth_mib"] = max(entry["growth_mib"])
                    entry["peak_growth_x_payload"] = entry["peak_growth_mib"] / (size / MIB)
                log(
                    f"{key}: "
                    + ", ".join(
                        f"{n} {entry['mb_per_s']:.1f} MiB/s +{entry['peak_growth_mib']:.0f} MiB"
                        for n, entry in results[key].items()
                    )
                )
        return results

    def backup_request(self, server: Contender, kind: str, body: bytes, user: str) -> tuple[float, float]:
        workers = server.workers()
        before = {}
        for pid in workers:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM back to the current VmRSS
            before[pid] = status_kib(pid, "VmRSS")
        started = time.perf_counter()
        if kind == "upload":
            status, _, answer = call(server.port, "POST", "/api/sync/backup", body, self.headers("uploader"))
            assert status == 201, (server.name, status, answer[:200])
        else:
            status, _, answer = call(server.port, "GET", "/api/sync/backup/latest", None, self.headers(user))
            assert status == 200, (server.name, status, answer[:200])
        seconds = time.perf_counter() - started
        growth = max(status_kib(pid, "VmHWM") - before[pid] for pid in workers) / 1024
        return seconds, growth

    def memory(self, live: dict) -> dict:
        results = {}
        for name, server in live.items():
            workers = [memory(pid) for pid in server.workers()]
            results[name] = {
                "processes": len(server.pids()),
                "workers": workers,
                "workers_rss_mib": sum(w["rss_mib"] for w in workers),
                "workers_uss_mib": sum(w["uss_mib"] for w in workers),
                "total_rss_mib": sum(memory(pid)["rss_mib"] for pid in server.pids()),
                "total_uss_mib": sum(memory(pid)["uss_mib"] for pid in server.pids()),
            }
        return results


def bcrypt_ceiling(seconds: float) -> float:
    """bcrypt_sha256 checks per second on the servers' CPU, one thread (12 rounds)."""
    code = (
        "import bcrypt, hashlib, time\n"
        "h = bcrypt.hashpw(hashlib.sha256(b'pw').hexdigest().encode(), bcrypt.gensalt(12))\n"
        f"n, start = 0, time.monotonic()\n"
        f"while time.monotonic() < start + {seconds} or n < 3:\n"
        "    bcrypt.checkpw(hashlib.sha256(b'pw').hexdigest().encode(), h); n += 1\n"
        "print(n / (time.monotonic() - start))\n"
    )
    output = subprocess.run(
        ["taskset", "-c", SERVER_CPU, sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return float(output)


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    meminfo = Path("/proc/meminfo").read_text()
    total = int(re.search(r"MemTotal:\s*(\d+)", meminfo).group(1)) // 1024
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpu": model.group(1) if model else platform.processor(),
        "cores": os.cpu_count(),
        "memory_mib": total,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": node,
        "load_average": os.getloadavg(),
        "commit": commit,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": QUICK,
    }


def seed_database(env: dict) -> dict:
    log("migrating and seeding the benchmark database")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=PROJECT, env=env, check=True
    )
    output = subprocess.run(
        [sys.executable, str(BENCH / "seed.py")],
        cwd=PROJECT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    RESULTS.mkdir(exist_ok=True)
    for server_log in RESULTS.glob("*.log"):  # the servers' logs of this run only
        server_log.unlink()
    ensure_tools()
    database_url, redis_url = database_urls()
    create_database(database_url)
    env = base_env(database_url, redis_url)
    seed = seed_database(env)
    bench = Bench(seed, env)
    report = {"machine": machine()}
    if not ONLY or MEASURED or "backups" in ONLY:
        rest(bench, env, database_url, report)
    from bench import backup_transfers, events, relay

    report.update(events.measure(bench, env, seed))
    report.update(backup_transfers.measure(env, seed))
    report.update(relay.measure(env, seed))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if ONLY:
        for name, module in (("events", events), ("backup_transfers", backup_transfers), ("relay", relay)):
            if table := module.markdown(report):
                (RESULTS / f"{name}-{stamp}.json").write_text(json.dumps(report, indent=1, default=str))
                print(table)
        return
    from bench.report import markdown

    table = "".join(
        (markdown(report), events.markdown(report), backup_transfers.markdown(report), relay.markdown(report))
    )
    for name in (stamp, "latest"):
        (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=1, default=str))
        (RESULTS / f"{name}.md").write_text(table)
    print(table)
    log(f"wrote bench/results/{stamp}.json and .md")


def rest(bench: Bench, env: dict, database_url: str, report: dict) -> None:
    """The REST rows: the app against the floor and the peer."""
    log("counting SQL statements per request")
    report["sql_per_request"] = bench.count_statements(env, database_url)
    report["bcrypt_ceiling_per_s"] = bcrypt_ceiling(2 if QUICK else 4)
    with contenders(env, PORTS) as live:
        bench.fetch_etags(live)
        report["memory_idle"] = bench.memory(live)
        report["throughput"] = bench.throughput(live)
        peaks = {
            name: {c: median(r["rps"] for r in runs) for c, runs in by.items()}
            for name, by in report["throughput"].items()
        }
        report["fixed_rate"] = bench.fixed_rate(live, peaks)
        if not ONLY or {"logins", "scripts_200"} <= ONLY:
            report["reads_during_logins"] = bench.reads_during_logins(live, peaks)
        if not ONLY or "backups" in ONLY:
            report["backups"] = bench.backups(live)
        report["memory_after_load"] = bench.memory(live)
        log(
            "memory after load (workers' RSS MiB): "
            + ", ".join(f"{n} {m['workers_rss_mib']:.0f}" for n, m in report["memory_after_load"].items())
        )


if __name__ == "__main__":
    main()
