"""The gunicorn worker of the ASGI side (Procfile `events`): uvicorn, speaking WebSocket with
the `websockets` package. Nothing here imports Django: gunicorn's master loads this module."""

from uvicorn_worker import UvicornWorker


class EventsWorker(UvicornWorker):
    CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        # Django's ASGI handler has no lifespan events to run.
        "lifespan": "off",
        "ws": "websockets-sansio",
        # Protocol pings find dead connections (a phone that lost its network) within 40 s.
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        # A frame this big is refused by the protocol (1009) before the app reads it.
        "ws_max_size": 64 * 1024,
        # The client's address stays the connection's peer, as gunicorn's WSGI workers leave
        # REMOTE_ADDR: the app alone reads X-Forwarded-For, for TRUSTED_PROXY_COUNT proxies.
        "proxy_headers": False,
    }
