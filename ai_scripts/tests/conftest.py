import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.models import User
from ai_scripts import services
from ai_scripts.models import AIScript
from testing.helpers import PASSWORD


@pytest.fixture
def make_script(db):
    def make(script_name="greeting", version="1.0", script_content=None, is_active=True):
        script = AIScript(
            script_name=script_name,
            version=version,
            script_content={"system": f"You are {script_name}."}
            if script_content is None
            else script_content,
            is_active=is_active,
        )
        services.script_save(script=script)
        return script

    return make


@pytest.fixture
def staff(db):
    return User.objects.create_superuser(email="staff@example.com", password=PASSWORD)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


class _UpstreamHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.hits += 1
        time.sleep(self.server.delay)
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass


class Upstream(ThreadingHTTPServer):
    """A real AI service stand-in on 127.0.0.1 answering `status` after `delay` seconds."""

    daemon_threads = True

    def __init__(self, *, status: int, delay: float):
        super().__init__(("127.0.0.1", 0), _UpstreamHandler)
        self.status, self.delay, self.hits = status, delay, 0
        self.url = f"http://127.0.0.1:{self.server_port}/health?key=s3cret-key"

    def handle_error(self, request, client_address):
        # The slow upstream writes to a probe that has already given up: expected, not news.
        pass


@pytest.fixture
def upstream():
    """Starts real HTTP servers on loopback; all are stopped after the test."""
    started = []

    def start(*, status=200, delay=0.0) -> Upstream:
        server = Upstream(status=status, delay=delay)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


RELAY_KEY_ENV = "PERSONA_TEST_PROVIDER_KEY"
RELAY_KEY = "sk-test-provider-key-3f9a7c1e"


@pytest.fixture(autouse=True)
def fresh_relay_routes():
    """The relay keeps each alias's routes for a few seconds; every test starts without them."""
    from ai_scripts import relay

    relay.routes_forget()


@pytest.fixture(autouse=True)
def no_provider_key_in_the_logs(caplog):
    """Whatever a test of this app does, the provider's key is in no log line."""
    caplog.set_level("DEBUG")
    yield
    assert RELAY_KEY not in caplog.text


@pytest.fixture
def fake_provider(monkeypatch):
    """A real OpenAI-compatible server on loopback (testing.fake_openai) taking RELAY_KEY, which
    the environment holds under RELAY_KEY_ENV as it would in production."""
    from testing.fake_openai import fake_openai

    monkeypatch.setenv(RELAY_KEY_ENV, RELAY_KEY)
    with fake_openai(key=RELAY_KEY) as server:
        yield server


@pytest.fixture
def make_provider(fake_provider):
    """An AI service that is a relay provider on the fake server."""
    from ai_scripts.models import AIService

    def make(name="fake", *, priority=100, request_timeout_seconds=5.0, api_key_env=RELAY_KEY_ENV, **fields):
        return AIService.objects.create(
            name=name,
            base_url=fake_provider.base_url,
            api_key_env=api_key_env,
            priority=priority,
            request_timeout_seconds=request_timeout_seconds,
            **fields,
        )

    return make


@pytest.fixture
def access(alice, tokens_for):
    """Alice's access token: the relay's bearer token."""
    return tokens_for(alice, "phone")["access"]


@pytest.fixture
def chat_alias(make_provider, make_alias):
    """`persona-chat`, served by the fake provider's gpt-4o-mini."""
    return make_alias("persona-chat", routes=[(make_provider("fake"), "gpt-4o-mini")])


@pytest.fixture
def make_alias(db):
    """A model alias routed to (provider, model) pairs."""
    from ai_scripts.models import ModelAlias, ModelRoute

    def make(name="persona-chat", routes=(), enabled=True):
        alias = ModelAlias.objects.create(name=name, enabled=enabled)
        for service, model in routes:
            ModelRoute.objects.create(alias=alias, service=service, model=model)
        return alias

    return make
