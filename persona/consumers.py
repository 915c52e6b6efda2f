"""The live events socket, `/ws/events`: one per signed-in device (README, "Live events").

A device authenticates with its access token, in the upgrade request's Authorization header,
as a `bearer.<token>` subprotocol (browsers), or in its first message; never in the URL. Then
it receives the events persona.events publishes for its user, starting with the ones it
missed when it names the last event it saw (`?last_event_id=`).

Close codes (the README's table):
  4001  no valid token (bad, expired, revoked at connect, or none within EVENTS_AUTH_SECONDS)
  4003  the sign-in was revoked while connected (logout, password change, deactivation ...)
  4029  too many open sockets for this user or address
  4400  a malformed or unknown message
  1009  a message larger than EVENTS_MAX_MESSAGE_BYTES
  1011  the channel layer (Redis) is unavailable: reconnect with back-off
A client that stops reading is dropped without a close frame once an event has waited
EVENTS_SEND_SECONDS to be handed over: its events are not buffered without bound.
"""

import asyncio
import collections
import logging
import time
from urllib.parse import parse_qs

import orjson
import redis
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.tokens import AccessToken

from accounts.services import token_decode, token_family_get
from persona import events
from persona.ratelimit import forwarded_client_ip

logger = logging.getLogger(__name__)

SUBPROTOCOL = "persona.events.v1"
BEARER_PREFIX = "bearer."


class CloseCode:
    UNAUTHORIZED = 4001
    REVOKED = 4003
    TOO_MANY = 4029
    MALFORMED = 4400
    TOO_BIG = 1009
    UNAVAILABLE = 1011


# Open sockets in this process, by user and by client address.
_open_by_user: collections.Counter = collections.Counter()
_open_by_address: collections.Counter = collections.Counter()


class EventsConsumer(AsyncWebsocketConsumer):
    closing = False

    async def __call__(self, scope, receive, send):
        # A channel layer that fails (Redis down) ends the socket with 1011 instead of an
        # unhandled error, so the client reconnects with back-off; REST is not involved.
        try:
            await super().__call__(scope, receive, send)
        except redis.RedisError:
            logger.warning("events socket closed: channel layer unavailable", exc_info=True)
            if not self.closing:
                await send({"type": "websocket.close", "code": CloseCode.UNAVAILABLE})
        finally:
            self._release()

    async def close(self, code=None, reason=None):
        # Once closing, nothing more is sent: a timer or a live event may still come.
        if not self.closing:
            self.closing = True
            await super().close(code, reason)

    async def connect(self):
        self.token = None
        self.user_id = None
        self.device_id = ""
        self.counted_user = self.counted_address = False
        self.timers: list[asyncio.TimerHandle] = []
        self.replayed_up_to = None
        headers = dict(self.scope["headers"])
        query = parse_qs(self.scope["query_string"].decode("latin-1"))
        self.last_event_id = query.get("last_event_id", [""])[0]
        self.echo = query.get("echo", ["1"])[0] != "0"
        client = self.scope.get("client") or ("", 0)
        self.address = forwarded_client_ip(client[0], headers.get(b"x-forwarded-for", b"").decode("latin-1"))

        offered = self.scope.get("subprotocols", [])
        await self.accept(SUBPROTOCOL if SUBPROTOCOL in offered else None)
        if self.last_event_id and events.parse_event_id(self.last_event_id) is None:
            await self.close(CloseCode.MALFORMED, "last_event_id is not an event id")
            return
        if _open_by_address[self.address] >= settings.EVENTS_MAX_SOCKETS_PER_ADDRESS:
            await self.close(CloseCode.TOO_MANY, "too many sockets from this address")
            return
        _open_by_address[self.address] += 1
        self.counted_address = True

        raw_token = _bearer(headers.get(b"authorization", b"").decode("latin-1")) or next(
            (protocol[len(BEARER_PREFIX) :] for protocol in offered if protocol.startswith(BEARER_PREFIX)), ""
        )
        if raw_token:
            await self._authenticate(raw_token)
        else:
            self._later(settings.EVENTS_AUTH_SECONDS, CloseCode.UNAUTHORIZED, "no token in time")

    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > settings.EVENTS_MAX_MESSAGE_BYTES:
            await self.close(CloseCode.TOO_BIG, "message too big")
            return
        try:
            message = orjson.loads(text_data) if text_data is not None else None
        except orjson.JSONDecodeError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.close(CloseCode.MALFORMED, "messages are JSON objects with a type")
            return
        if message["type"] == "ping":
            await self._send({"type": "pong", "time": events.now()})
            return
        if message["type"] == "auth" and isinstance(message.get("token"), str):
            await self._authenticate(message["token"])
            return
        await self.close(CloseCode.MALFORMED, "unknown message type")

    async def websocket_disconnect(self, message):
        self.closing = True  # the client is gone: nothing more can be sent
        await super().websocket_disconnect(message)

    async def event_deliver(self, message):
        event = message["event"]
        if event["id"] and self.replayed_up_to and events.parse_event_id(event["id"]) <= self.replayed_up_to:
            return  # already sent from the backlog
        if self._wants(event):
            await self._send(event)

    async def sessions_changed(self, message):
        if await database_sync_to_async(token_family_get)(self.token) is None:
            await self.close(CloseCode.REVOKED, "signed out")

    async def _authenticate(self, raw_token: str):
        try:
            token = token_decode(AccessToken, raw_token)
        except InvalidToken:
            await self.close(CloseCode.UNAUTHORIZED, "invalid or expired token")
            return
        family = await database_sync_to_async(token_family_get)(token)
        if self.closing:
            return  # closed meanwhile (its auth delay ran out)
        if family is None:
            await self.close(CloseCode.UNAUTHORIZED, "revoked token")
            return
        renewing = self.user_id is not None
        if renewing and family.user_id != self.user_id:
            await self.close(CloseCode.MALFORMED, "a socket stays with one user")
            return
        self._cancel_timers()
        self.token = token
        self._later(token["exp"] - time.time(), CloseCode.UNAUTHORIZED, "token expired")
        if renewing:
            # Group memberships expire (channels-redis: a day): a renewed socket joins again.
            for group in self.groups:
                await self.channel_layer.group_add(group, self.channel_name)
            return
        if _open_by_user[family.user_id] >= settings.EVENTS_MAX_SOCKETS_PER_USER:
            await self.close(CloseCode.TOO_MANY, "too many sockets for this user")
            return
        _open_by_user[family.user_id] += 1
        self.counted_user = True
        self.user_id, self.device_id = family.user_id, family.device_id
        self.groups = [events.user_group(self.user_id), events.EVERYONE]
        for group in self.groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self._send({"type": "ready", "time": events.now(), "device_id": self.device_id})
        if self.last_event_id:
            await self._replay()

    async def _replay(self):
        missed = await database_sync_to_async(events.backlog_since, thread_sensitive=False)(
            self.user_id, self.last_event_id
        )
        if missed is None:
            await self._send(
                {
                    "id": None,
                    "type": events.EventType.RESYNC,
                    "time": events.now(),
                    "source_device": "",
                    "data": {},
                }
            )
            return
        for event in missed:
            if self._wants(event):
                await self._send(event)
        if missed:
            self.replayed_up_to = events.parse_event_id(missed[-1]["id"])

    def _wants(self, event: dict) -> bool:
        """False for the device's own events when it asked for no echo (`?echo=0`)."""
        return self.echo or not self.device_id or event["source_device"] != self.device_id

    async def _send(self, payload: dict):
        if self.closing:
            return
        try:
            await asyncio.wait_for(
                self.send(text_data=orjson.dumps(payload).decode()), settings.EVENTS_SEND_SECONDS
            )
        except TimeoutError:
            logger.info("events socket dropped: the client stopped reading")
            raise StopConsumer() from None
        except OSError:
            raise StopConsumer() from None  # the client is gone

    def _later(self, seconds: float, code: int, reason: str):
        loop = asyncio.get_running_loop()
        self.timers.append(
            loop.call_later(max(seconds, 0), lambda: loop.create_task(self.close(code, reason)))
        )

    def _cancel_timers(self):
        for timer in self.timers:
            timer.cancel()
        self.timers = []

    def _release(self):
        """Gives back what this socket counted, however it ended (connect() may not have run)."""
        if getattr(self, "timers", None):
            self._cancel_timers()
        if getattr(self, "counted_user", False):
            _forget(_open_by_user, self.user_id)
        if getattr(self, "counted_address", False):
            _forget(_open_by_address, self.address)


def _bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _forget(counter: collections.Counter, key) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]
