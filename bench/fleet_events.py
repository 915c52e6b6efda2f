"""The fleet simulation's live events client (push mode, bench/fleet.py): a device's socket
to /ws/events, read when the device takes its turn."""

import contextlib
import json
from urllib.parse import urlencode, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


class EventSocket:
    """A device's live events socket, read when the device takes its turn; the client library
    buffers what arrives in between. It asks for no echo of the device's own events."""

    def __init__(self, url: str):
        self.url = url
        self.connection = None
        self.token = None  # the access token the server holds this socket to
        self.last_event_id = ""
        self.close_code = None
        self.lifetime = contextlib.ExitStack()

    def open(self, token: str) -> bool:
        """Connects and waits for `ready`; False when the server closed it instead (close_code).
        With a last_event_id, the server replays what the device missed right after `ready`."""
        query = {"echo": "0", **({"last_event_id": self.last_event_id} if self.last_event_id else {})}
        try:
            self.connection = self.lifetime.enter_context(
                connect(
                    f"{self.url}?{urlencode(query)}",
                    additional_headers={"Authorization": f"Bearer {token}"},
                    proxy=None,
                    # Far more than a device hears between two turns: the server drops a socket
                    # whose client stops reading.
                    max_queue=1024,
                    close_timeout=5,
                )
            )
            ready = json.loads(self.connection.recv(timeout=10))
        except ConnectionClosed as closed:
            self.closed(closed)
            return False
        if ready["type"] != "ready":
            raise AssertionError(f"the events socket began with {ready} instead of ready")
        self.token = token
        return True

    def read(self) -> list[dict] | None:
        """Every event the server sent before now, oldest first; None when the socket closed
        (close_code says why). A ping's pong marks the end, so what a device hears does not
        depend on how fast threads ran."""
        events = []
        try:
            self.connection.send(json.dumps({"type": "ping"}))
            while (message := json.loads(self.connection.recv(timeout=10)))["type"] != "pong":
                events.append(message)
        except ConnectionClosed as closed:
            # Unread events stay in the backlog: the next socket asks for them by last_event_id.
            self.closed(closed)
            return None
        for event in events:
            if event["id"] and (
                not self.last_event_id or event_order(event["id"]) > event_order(self.last_event_id)
            ):
                self.last_event_id = event["id"]
        return events

    def authenticate(self, token: str):
        """Hands an open socket the device's new access token, so that it outlives the old one."""
        try:
            self.connection.send(json.dumps({"type": "auth", "token": token}))
            self.token = token
        except ConnectionClosed as closed:
            self.closed(closed)

    def close(self):
        self.lifetime.close()
        self.connection = None

    def closed(self, closed: ConnectionClosed):
        self.close_code = closed.rcvd.code if closed.rcvd else None
        self.close()


# Close codes that say the server will not keep a socket for now (too many open, channel
# layer down); another try at once would meet the same answer.
SOCKET_REFUSED = (4029, 1011)


def event_order(event_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = event_id.partition("-")
    return int(milliseconds), int(sequence)


def websocket_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    return parts._replace(scheme="wss" if parts.scheme == "https" else "ws", path="/ws/events").geturl()
