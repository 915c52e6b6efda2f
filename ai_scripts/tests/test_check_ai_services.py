from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ai_scripts.models import AIService


def check() -> tuple[str, CommandError | None]:
    out = StringIO()
    try:
        call_command("check_ai_services", stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def add(name, server, *, timeout=1.0, enabled=True):
    return AIService.objects.create(
        name=name, health_url=server.url, timeout_seconds=timeout, enabled=enabled
    )


@pytest.mark.django_db
def test_it_prints_one_line_per_service_and_succeeds_when_all_are_up(upstream):
    healthy = upstream(status=200)
    add("chat", healthy)
    add("retired", upstream(status=500), enabled=False)

    output, error = check()

    assert error is None
    lines = output.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("chat: up (")
    assert lines[0].endswith(" ms)")
    assert lines[1] == "retired: disabled"
    assert healthy.hits == 1


@pytest.mark.django_db
def test_it_exits_with_1_when_an_enabled_service_is_down(upstream):
    add("chat", upstream(status=200))
    add("embeddings", upstream(status=500))
    add("vision", upstream(status=200, delay=1.0), timeout=0.2)

    output, error = check()

    lines = output.splitlines()
    assert [line.split(":")[0] for line in lines] == ["chat", "embeddings", "vision"]
    assert lines[0].startswith("chat: up (")
    assert lines[1].startswith("embeddings: down (")
    assert lines[2] == "vision: down (no answer)"
    assert error.returncode == 1
    assert str(error) == "2 of 3 enabled AI services are down: embeddings, vision."
    assert "127.0.0.1" not in output


@pytest.mark.django_db
def test_it_ignores_the_cached_health(upstream, api_client, settings):
    settings.AI_HEALTH_CACHE_SECONDS = 30
    server = upstream(status=200)
    add("chat", server)
    api_client.get("/api/ai/health")
    server.status = 500

    output, error = check()

    assert output.startswith("chat: down (")
    assert error.returncode == 1
    assert server.hits == 2


@pytest.mark.django_db
def test_it_says_when_nothing_is_configured():
    output, error = check()

    assert (output, error) == ("No AI services are configured.\n", None)
