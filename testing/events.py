"""A signed-in account on a live server and its event sockets, for the live events tests: real
HTTP calls to sign in and sync, and the `websockets` package as the device's client."""

import contextlib
import hashlib
import json
import secrets
import uuid

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from testing.helpers import PASSWORD, http

RECEIVE_SECONDS = 5


class Account:
    """A user registered on the server at `base_url` from its first device; `access(device)`
    signs another device in when it needs to (each sign-in costs a bcrypt hash on the server)."""

    def __init__(self, base_url: str, device: str = "phone"):
        self.base_url = base_url
        self.email = f"{uuid.uuid4().hex[:12]}@example.com"
        self.versions: dict[str, int] = {}
        body = {"email": self.email, "password": PASSWORD, "device_id": device}
        status, _, tokens = http("POST", f"{base_url}/api/auth/register", body)
        assert status == 201, tokens
        self.tokens = {device: tokens}

    def sign_in(self, device: str) -> dict:
        status, _, tokens = http(
            "POST",
            f"{self.base_url}/api/auth/login",
            {"email": self.email, "password": PASSWORD, "device_id": device},
        )
        assert status == 200, tokens
        self.tokens[device] = tokens
        return tokens

    def access(self, device: str) -> str:
        return (self.tokens.get(device) or self.sign_in(device))["access"]

    def call(self, method: str, path: str, device: str, body=None):
        status, _, answer = http(method, f"{self.base_url}{path}", body, token=self.access(device))
        return status, answer

    def sync(self, device: str, version: int | None = None) -> dict:
        """Reports a device's next sync version (or `version`); returns the report."""
        version = version or self.versions.get(device, 0) + 1
        self.versions[device] = version
        body = {
            "device_id": device,
            "sync_version": version,
            "data_hash": hashlib.sha256(str(version).encode()).hexdigest(),
        }
        status, answer = self.call("POST", "/api/sync/status", device, body)
        assert status in (200, 201), answer
        return body


def events_url(base_url: str, query: str = "") -> str:
    return base_url.replace("http://", "ws://", 1) + "/ws/events" + (f"?{query}" if query else "")


@contextlib.contextmanager
def socket(
    base_url: str, token: str | None = None, *, query: str = "", address: str | None = None, **options
):
    """An events socket (the token in the Authorization header, if given) from a client address
    of its own by default (X-Forwarded-For, which the test servers trust), so that the
    per-address limit counts only the sockets a test means to count."""
    headers = {
        "X-Forwarded-For": address
        or f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with connect(events_url(base_url, query), additional_headers=headers, open_timeout=10, **options) as ws:
        yield ws


def receive(ws: ClientConnection, timeout: float = RECEIVE_SECONDS) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def ready(ws: ClientConnection) -> dict:
    message = receive(ws)
    assert message["type"] == "ready", message
    return message


def close_code(ws: ClientConnection, timeout: float = RECEIVE_SECONDS) -> int:
    """The code the server closed the socket with (every message before it is skipped)."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            ws.recv(timeout=timeout)
    if ws.protocol.close_rcvd is None:
        pytest.fail("the socket ended without a close frame from the server")
    return ws.protocol.close_rcvd.code
