"""Fleet simulation: many devices on a flaky network converge through sync status and backups.

A seeded, single-threaded simulator drives a live Persona server over HTTP. Every user has
several devices; each device keeps a local data version and content. On each step a device
may edit locally, go offline or come back, or sync: look at the user's devices, adopt the
latest backup when another device is ahead, else upload a backup of its content (with an
Idempotency-Key) and report its status. The simulated network drops requests, drops
responses after the server processed them (the client then retries the same request),
duplicates requests and delays them so they arrive out of order. Access tokens expire
(run the server with a short JWT_ACCESS_SECONDS) and are refreshed mid-run.

At the end the network heals, every device comes back and syncs until the fleet converges,
and the invariants are checked; any breach makes the run fail loudly (exit code 1).

Two modes share that schedule (one seeded generator picks who acts and how; the network's
faults come from a second one, so a mode that sends fewer requests meets the same edits):
- polling (the default): a device's sync starts with GET /api/sync/status;
- push (--push): each device keeps the live events socket (/ws/events) open and knows where
  the other devices are from its `sync.version` and `backup.created` events; it pulls only
  when they put another device ahead, and uploads and reports its own edits without looking
  first. It looks (as polling does) only when it cannot trust its view: on its first socket,
  and on a `resync`. A device going offline closes its socket and reconnects with
  `last_event_id`, so it catches up from the backlog; a socket closed for an expired token
  (4001) is reopened with a fresh one.

    python -m bench.fleet --url http://127.0.0.1:3000 [--seed 7] [--large] [--push]
    python -m bench.fleet --spawn            # starts its own gunicorn (see make fleet)
"""

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.fleet_events import SOCKET_REFUSED, EventSocket, websocket_url
from testing import servers

PASSWORD = "fleet simulation passphrase"


@dataclass
class Config:
    seed: int = 7
    users: int = 3
    devices: int = 10
    steps: int = 300
    drop_request: float = 0.05
    drop_response: float = 0.05
    duplicate: float = 0.05
    delay: float = 0.08
    max_delay_steps: int = 20
    retries: int = 2
    backup_keep: int = 10
    push: bool = False

    @classmethod
    def large(cls, seed: int, push: bool = False) -> "Config":
        return cls(seed=seed, users=30, devices=10, steps=20_000, push=push)


@dataclass
class Request:
    method: str
    path: str
    body: dict | None = None
    headers: dict = field(default_factory=dict)


@dataclass
class Response:
    status: int
    body: object


class ServerError(AssertionError):
    pass


class Http:
    """One persistent HTTP/1.1 connection to the server; every 5xx is recorded."""

    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.connection = None
        self.server_errors: list[str] = []
        self.calls = 0

    def send(self, request: Request) -> Response:
        headers = {"Content-Type": "application/json", **request.headers}
        body = json.dumps(request.body) if request.body is not None else None
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.connection.request(request.method, request.path, body=body, headers=headers)
                raw = self.connection.getresponse()
                payload = raw.read()
                break
            except (ConnectionError, http.client.HTTPException):
                self.connection.close()
                self.connection = None
                if attempt:
                    raise
        self.calls += 1
        parsed = (
            json.loads(payload)
            if payload and raw.getheader("Content-Type", "").startswith("application/json")
            else None
        )
        if raw.status >= 500:
            self.server_errors.append(f"{request.method} {request.path} -> {raw.status} {payload[:200]!r}")
        return Response(raw.status, parsed)


class Network:
    """Delivers requests with faults. `None` means the client saw a timeout."""

    def __init__(self, http_client: Http, config: Config, rng: random.Random):
        self.http, self.config, self.rng = http_client, config, rng
        self.faulty = True
        self.step = 0
        self.delayed: list[tuple[int, Request]] = []
        self.stats = Counter()

    def call(self, request: Request) -> Response | None:
        self.stats["requests"] += 1
        if not self.faulty:
            return self.http.send(request)
        roll = self.rng.random()
        config = self.config
        if roll < config.drop_request:
            self.stats["dropped_requests"] += 1
            return None
        roll -= config.drop_request
        if roll < config.delay:
            self.stats["delayed"] += 1
            due = self.step + self.rng.randint(1, config.max_delay_steps)
            self.delayed.append((due, request))
            return None
        roll -= config.delay
        response = self.http.send(request)
        if roll < config.duplicate:
            self.stats["duplicated"] += 1
            response = self.http.send(request)
        elif roll < config.duplicate + config.drop_response:
            self.stats["dropped_responses"] += 1
            return None
        return response

    def tick(self, step: int):
        """Delivers the delayed requests that are due; their answers reach nobody."""
        self.step = step
        due = [request for when, request in self.delayed if when <= step]
        self.delayed = [(when, request) for when, request in self.delayed if when > step]
        for request in due:
            self.stats["delivered_late"] += 1
            self.http.send(request)

    def flush(self):
        self.tick(sys.maxsize)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Device:
    def __init__(self, sim: "Fleet", user: "User", name: str):
        self.sim, self.user, self.name = sim, user, name
        self.version = 0
        self.content = ""
        self.online = True
        self.uploaded_version = 0  # the newest local version stored as a backup (0: no data yet)
        self.reported = None  # (version, hash) the server last accepted from this device
        self.access = self.refresh = None
        self.held = set()  # every (version, content hash) this device has held
        # Where the other devices are: device_id -> (version, hash), from the sync status
        # (polling) or from events (push), and the newest backup version events told of.
        self.peers: dict[str, tuple[int, str]] = {}
        self.newest_backup = 0
        self.socket = EventSocket(sim.events_url) if sim.events_url else None
        self.view_stale = True  # push: events may have been missed; look before trusting them

    # --- requests through the network, with retries and token refresh ---

    def call(self, method, path, body=None, headers=None) -> Response | None:
        for attempt in range(self.sim.config.retries + 1):
            if attempt:
                self.sim.stats["retries"] += 1
            if self.access is None and not self.sign_in():
                continue
            request = Request(
                method, path, body, {**(headers or {}), "Authorization": f"Bearer {self.access}"}
            )
            response = self.sim.network.call(request)
            if response is None:
                continue
            if response.status == 401:
                self.refresh_tokens()
                continue
            return response
        return None

    def sign_in(self) -> bool:
        body = {"email": self.user.email, "password": PASSWORD, "device_id": self.name}
        response = self.sim.network.call(Request("POST", "/api/auth/login", body))
        if response is None or response.status != 200:
            return False
        self.sim.stats["logins"] += 1
        self.access, self.refresh = response.body["access"], response.body["refresh"]
        self.tokens_changed()
        return True

    def refresh_tokens(self):
        self.access = None
        if self.refresh is None:
            return
        response = self.sim.network.call(Request("POST", "/api/auth/refresh", {"refresh": self.refresh}))
        if response is not None and response.status == 200:
            self.sim.stats["refreshes"] += 1
            self.access, self.refresh = response.body["access"], response.body["refresh"]
            self.tokens_changed()
        elif response is not None and response.status == 401:
            # Rotated away (a lost answer replayed after the grace window): sign in again.
            self.sim.stats["refresh_rejected"] += 1
            self.refresh = None

    def tokens_changed(self):
        if self.socket is not None and self.socket.connection is not None:
            self.socket.authenticate(self.access)

    # --- what a device does ---

    def hold(self, version: int, content: str):
        self.version, self.content = version, content
        self.held.add((version, sha256(content)))

    def edit(self):
        version = self.version + 1
        self.hold(version, f"{self.user.email}|{self.name}|v{version}|{self.sim.rng.getrandbits(64):016x}")
        self.user.reached = max(self.user.reached, self.version)
        self.sim.stats["edits"] += 1

    def go_offline(self):
        self.online = False
        if self.socket is not None:
            self.socket.close()

    def sync(self) -> bool:
        """One round of the sync protocol; False when the network got in the way."""
        devices = self.call("GET", "/api/sync/status")
        if devices is None:
            return False
        self.peers = {
            d["device_id"]: (d["sync_version"], d["data_hash"])
            for d in devices.body
            if d["device_id"] != self.name
        }
        self.view_stale = False
        return self.sync_with_peers()

    def push_sync(self) -> bool:
        """Push mode's round: hears the events since the last one, pulls only when they put
        another device ahead, else stores its own edits; looks at the sync status only when
        it may have missed events."""
        events = self.listen()
        if events is None and self.socket.close_code in SOCKET_REFUSED:
            # No socket to be had: poll, as a client without live events would.
            self.sim.stats["polls_without_socket"] += 1
            return self.sync()
        if events is None:
            return False
        for event in events:
            self.hear(event)
        if self.view_stale:
            self.sim.stats["looks_for_missed_events"] += 1
            return self.sync()
        if self.peer_ahead():
            self.sim.stats["pulls_on_event"] += 1
        return self.sync_with_peers()

    def listen(self) -> list[dict] | None:
        """The events since the last look, the socket (re)opened first; None when no socket
        could be had: the network kept the device from a token, or the server refused one
        (close_code)."""
        for _ in range(self.sim.config.retries + 1):
            if self.socket.connection is None and not self.open_socket():
                if self.socket.close_code in SOCKET_REFUSED:
                    return None
                continue
            events = self.socket.read()
            if events is not None:
                return events
            self.socket_closed()
        return None

    def open_socket(self) -> bool:
        self.socket.close_code = None
        if self.access is None and not self.sign_in():
            return False
        if not self.socket.open(self.access):
            self.socket_closed()
            return False
        self.sim.stats["socket_opens"] += 1
        if not self.socket.last_event_id:
            self.view_stale = True  # what happened before this socket was never heard
        return True

    def socket_closed(self):
        code = self.socket.close_code
        self.sim.stats[f"socket_closed_{code}"] += 1
        if code == 4001 and self.socket.token == self.access:
            self.refresh_tokens()  # the device's access token expired with the socket's

    def hear(self, event: dict):
        self.sim.stats[f"heard_{event['type']}"] += 1
        data = event["data"]
        if event["type"] == "resync":
            self.view_stale = True
        elif event["type"] == "sync.version" and data["device_id"] != self.name:
            # A device's stored version only grows; an event older than a look changes nothing.
            known = self.peers.get(data["device_id"], (0, ""))
            if data["sync_version"] >= known[0]:
                self.peers[data["device_id"]] = (data["sync_version"], data["data_hash"])
        elif event["type"] == "backup.created":
            self.newest_backup = max(self.newest_backup, data["sync_version"] or 0)

    def peer_ahead(self) -> bool:
        """Another device (or a backup) is on a newer version, or on this one with other data."""
        my_hash = sha256(self.content)
        return self.newest_backup > self.version or any(
            version > self.version or (version == self.version and data_hash != my_hash)
            for version, data_hash in self.peers.values()
        )

    def sync_with_peers(self) -> bool:
        """Pulls when another device is ahead, else stores this device's version."""
        if self.peer_ahead():
            return self.adopt_latest()
        if self.version > self.uploaded_version and not self.upload():
            return False
        if self.reported != (self.version, sha256(self.content)):
            return self.report()
        return True

    def adopt_latest(self) -> bool:
        """Takes the server's latest backup when it is newer than the local data. Two devices
        that edited the same version differently both take the latest backup's content at a
        new version, since a version once reported cannot change its data."""
        latest = self.call("GET", "/api/sync/backup/latest")
        if latest is None or latest.status != 200:
            return False
        backup = latest.body
        if sha256(backup["encrypted_data"]) != backup["checksum"]:
            self.sim.breach(f"{self.name}: latest backup fails its own checksum")
        version = backup.get("sync_version") or 0
        if version > self.version:
            self.hold(version, backup["encrypted_data"])
            self.uploaded_version = version
            self.sim.stats["adoptions"] += 1
        elif version == self.version and backup["encrypted_data"] != self.content:
            self.hold(version + 1, backup["encrypted_data"])
            self.user.reached = max(self.user.reached, self.version)
            self.sim.stats["conflicts_resolved"] += 1
            return self.upload() and self.report()
        return self.report()

    def upload(self) -> bool:
        checksum = sha256(self.content)
        body = {
            "encrypted_data": self.content,
            "checksum": checksum,
            "device_id": self.name,
            "sync_version": self.version,
        }
        key = f"{self.name}-v{self.version}-{checksum[:16]}"
        response = self.call("POST", "/api/sync/backup", body, {"Idempotency-Key": key})
        if response is None:
            return False
        if response.status == 201:
            self.user.uploads.setdefault(self.version, set()).add(checksum)
            self.uploaded_version = self.version
            return True
        self.sim.stats[f"backup_{response.status}"] += 1
        if response.status == 409:
            return self.adopt_latest()
        self.sim.breach(f"{self.name}: backup upload answered {response.status} {response.body}")
        return False

    def report(self) -> bool:
        body = {"device_id": self.name, "sync_version": self.version, "data_hash": sha256(self.content)}
        response = self.call("POST", "/api/sync/status", body)
        if response is None:
            return False
        if response.status in (200, 201):
            self.reported = (self.version, body["data_hash"])
            return True
        if response.status == 409:
            self.sim.stats[f"conflict_{response.body.get('code')}"] += 1
            stored = response.body["device"]["sync_version"]
            if stored > self.version:
                # A late duplicate of this device's own newer report; adopt from the backups.
                return self.adopt_latest()
            return self.adopt_latest() if stored == self.version else False
        self.sim.breach(f"{self.name}: status report answered {response.status} {response.body}")
        return False


@dataclass
class User:
    email: str
    reached: int = 0
    uploads: dict = field(default_factory=dict)  # version -> checksums stored as backups
    devices: list = field(default_factory=list)


class Fleet:
    def __init__(self, base_url: str, config: Config, events_url: str | None = None):
        """`events_url` is the /ws/events URL for push mode, by default on base_url's server."""
        self.config = config
        self.events_url = (events_url or websocket_url(base_url)) if config.push else None
        self.rng = random.Random(config.seed)
        self.http = Http(base_url)
        self.network = Network(self.http, config, random.Random(f"{config.seed}/network"))
        self.stats = Counter()
        self.breaches: list[str] = []
        run = uuid.UUID(int=self.rng.getrandbits(128)).hex[:8]
        self.users = [User(email=f"fleet-{run}-{index}@example.com") for index in range(config.users)]
        for user in self.users:
            user.devices = [
                Device(self, user, f"{user.email.split('@')[0]}-d{d}") for d in range(config.devices)
            ]

    def breach(self, message: str):
        self.breaches.append(message)

    def run(self) -> dict:
        started = time.monotonic()
        for user in self.users:
            response = self.http.send(
                Request("POST", "/api/auth/register", {"email": user.email, "password": PASSWORD})
            )
            if response.status != 201:
                raise SystemExit(f"cannot register {user.email}: {response.status} {response.body}")
        devices = [device for user in self.users for device in user.devices]
        try:
            for step in range(self.config.steps):
                self.network.tick(step)
                device = self.rng.choice(devices)
                self.act(device)
            chaos_seconds = time.monotonic() - started
            self.network.flush()
            self.network.faulty = False
            healed, requests_before = time.monotonic(), self.network.stats["requests"]
            converged_in = self.converge()
            convergence = {
                "rounds": converged_in,
                "seconds": round(time.monotonic() - healed, 2),
                "requests": self.network.stats["requests"] - requests_before,
            }
            requests = self.network.stats["requests"]
            self.check_invariants()
        finally:
            for device in devices:
                if device.socket is not None:
                    device.socket.close()
        return self.summary(chaos_seconds, convergence, requests, time.monotonic() - started)

    def act(self, device: Device):
        roll = self.rng.random()
        if not device.online:
            if roll < 0.3:
                device.online = True
                self.stats["came_back"] += 1
            return
        if roll < 0.08:
            device.go_offline()
            self.stats["went_offline"] += 1
        elif roll < 0.40:
            device.edit()
        elif not self.sync(device):
            self.stats["sync_interrupted"] += 1

    def sync(self, device: Device) -> bool:
        return device.push_sync() if self.config.push else device.sync()

    def converge(self) -> int:
        """With the network healed, every device syncs until all agree; returns the rounds."""
        for device in (d for user in self.users for d in user.devices):
            device.online = True
        for round_number in range(1, 20):
            for user in self.users:
                for device in user.devices:
                    if not self.sync(device):
                        self.breach(f"{device.name}: sync failed on a healed network")
            if all(self.user_converged(user) for user in self.users):
                return round_number
        self.breach("the fleet did not converge in 19 rounds on a healed network")
        return -1

    def user_converged(self, user: User) -> bool:
        versions = {(device.version, device.content) for device in user.devices}
        return len(versions) == 1

    def check_invariants(self):
        self.stats["invariants_checked"] = 0
        if self.http.server_errors:
            self.breach(f"{len(self.http.server_errors)} server errors, first: {self.http.server_errors[0]}")
        self.stats["invariants_checked"] += 1
        for user in self.users:
            self.check_user(user)

    def check_user(self, user: User):
        device = user.devices[0]
        latest = device.call("GET", "/api/sync/backup/latest")
        backups = device.call("GET", "/api/sync/backup")
        rows = device.call("GET", "/api/sync/status")
        profile = device.call("GET", "/api/auth/profile")
        latest, backups, rows, profile = latest.body, backups.body, rows.body, profile.body
        name = user.email
        checks = {
            "newest version recoverable": (latest.get("sync_version") or 0) >= user.reached,
            "latest backup is what a device uploaded": sha256(latest["encrypted_data"])
            in user.uploads.get(latest.get("sync_version"), set()),
            "latest backup checksum": sha256(latest["encrypted_data"]) == latest["checksum"],
            "no duplicate backups": len({(b["device_id"], b["sync_version"], b["checksum"]) for b in backups})
            == len(backups),
            f"at most {self.config.backup_keep} backups": len(backups) <= self.config.backup_keep,
            # Newest first by date: a late, older upload must never become the latest.
            "backups never go back in version": [b["sync_version"] for b in backups]
            == sorted((b["sync_version"] for b in backups), reverse=True),
            "every device on the newest version": all(
                d.version == latest.get("sync_version") and d.content == latest["encrypted_data"]
                for d in user.devices
            ),
            "device_count matches the active devices": profile["device_count"]
            == sum(1 for row in rows if row["is_active"])
            == len(user.devices),
            "last_sync is the last accepted report": profile["last_sync"]
            == max(row["synced_at"] for row in rows),
        }
        for check, held in checks.items():
            self.stats["invariants_checked"] += 1
            if not held:
                self.breach(f"{name}: {check}")

    def converged_versions(self) -> int:
        """The versions (a version number with its data) that every device of their user held
        at some point of the run, the last one included."""
        return sum(len(set.intersection(*(device.held for device in user.devices))) for user in self.users)

    def summary(self, chaos_seconds, convergence, requests, total_seconds) -> dict:
        converged_versions = self.converged_versions()
        return {
            "mode": "push" if self.config.push else "polling",
            "seed": self.config.seed,
            "users": self.config.users,
            "devices": self.config.users * self.config.devices,
            "steps": self.config.steps,
            "http_calls": self.http.calls,
            "network": dict(self.network.stats),
            "events": dict(self.stats),
            "server_errors": len(self.http.server_errors),
            "convergence_rounds": convergence["rounds"],
            "convergence_seconds": convergence["seconds"],
            "convergence_requests": convergence["requests"],
            # Requests: what the devices sent until the fleet converged (retries, sign-ins and
            # token refreshes included; the network's duplicates and late deliveries not).
            "requests": requests,
            "converged_versions": converged_versions,
            "requests_per_converged_version": round(requests / max(converged_versions, 1), 1),
            "chaos_seconds": round(chaos_seconds, 2),
            "total_seconds": round(total_seconds, 2),
            "breaches": self.breaches,
        }


SERVER_ENV = {
    # Every simulated device signs in, and opens its events socket, from 127.0.0.1.
    "RATELIMIT_ENABLE": "0",
    "EVENTS_MAX_SOCKETS_PER_ADDRESS": "1000",
    "WEB_CONCURRENCY": "1",
    "SINGLE_PROCESS": "1",
}


@contextlib.contextmanager
def scratch_database(scratch_dir: str):
    """A fresh database URL for one run: a new PostgreSQL database beside DATABASE_URL's
    when that is set (dropped afterwards), else a SQLite file in scratch_dir."""
    base = os.environ.get("DATABASE_URL")
    if not base:
        yield f"sqlite:///{scratch_dir}/fleet.sqlite3"
        return
    import psycopg

    parts = urlsplit(base)
    name = f"fleet_{uuid.uuid4().hex[:12]}"
    maintenance = parts._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Endpoints:
    http: str
    events: str | None = None  # the /ws/events URL, when it is not on the HTTP server


@contextlib.contextmanager
def spawned_server(token_seconds: int, *, push: bool = False):
    """gunicorn of this checkout with production settings on a fresh database, its access
    tokens living `token_seconds`, on a free loopback port. Yields its Endpoints.

    Push mode needs the ASGI side too. With REDIS_URL set, events reach sockets in any
    process: the WSGI gunicorn serves HTTP and the ASGI one the sockets, as the Procfile's
    `web` and `events` do. Without it, only sockets in the process that published hear an
    event, so the ASGI side alone serves both."""
    with tempfile.TemporaryDirectory() as scratch, scratch_database(scratch) as database_url:
        env = servers.production_env(
            **SERVER_ENV, DATABASE_URL=database_url, JWT_ACCESS_SECONDS=str(token_seconds)
        )
        servers.manage(env, "migrate", "--noinput")
        if not push:
            with servers.gunicorn(env) as server:
                yield Endpoints(server.base_url)
        elif env.get("REDIS_URL"):
            with servers.gunicorn(env) as web, servers.events(env) as events:
                yield Endpoints(web.base_url, websocket_url(events.base_url))
        else:
            with servers.events(env) as server:
                yield Endpoints(server.base_url)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", default="http://127.0.0.1:3000", help="a running server")
    where.add_argument("--spawn", action="store_true", help="start a gunicorn of this checkout")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--large", action="store_true", help="hundreds of devices, tens of thousands of steps"
    )
    parser.add_argument("--steps", type=int)
    parser.add_argument(
        "--push",
        action="store_true",
        help="devices hear the live events socket and pull when it says another is ahead, "
        "instead of polling the sync status",
    )
    parser.add_argument("--events-url", help="the /ws/events URL with --url, if not on that server")
    parser.add_argument(
        "--token-seconds",
        type=int,
        default=3,
        help="access token lifetime of a spawned server; tokens expire by the server's clock, so "
        "only a lifetime longer than the run makes it reproducible to the last request",
    )
    args = parser.parse_args(argv)
    config = Config.large(args.seed, args.push) if args.large else Config(seed=args.seed, push=args.push)
    if args.steps:
        config.steps = args.steps
    if args.spawn:
        with spawned_server(args.token_seconds, push=args.push) as endpoints:
            result = Fleet(endpoints.http, config, endpoints.events).run()
    else:
        result = Fleet(args.url, config, args.events_url).run()
    print(json.dumps(result, indent=2))
    return 1 if result["breaches"] else 0


if __name__ == "__main__":
    sys.exit(main())
