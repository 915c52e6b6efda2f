"""The ASGI side: the live events socket (/ws/events), and HTTP like the WSGI side serves it
(so `make run` serves everything from one process)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona.settings")
# Django is set up before anything imports models (the consumer does).
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from persona.consumers import EventsConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": URLRouter([path("ws/events", EventsConsumer.as_asgi())]),
    }
)
