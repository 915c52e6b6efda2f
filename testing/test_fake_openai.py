"""testing.fake_openai, the upstream the AI relay's tests and benchmarks talk to, driven by the
official openai SDK: it answers as the real API does, fails as the model name asks, and
records what each request came to (finished, or cancelled by a client that went away)."""

import select
import subprocess
import sys
import time

import httpx
import openai
import pytest

from testing.fake_openai import UPSTREAM_SECRET_TEXT, fake_openai
from testing.servers import PROJECT, free_port, stop

KEY = "sk-test-fake-openai-key"
HELLO = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there  world"}]


@pytest.fixture
def upstream():
    with fake_openai(key=KEY) as server:
        yield server


@pytest.fixture
def client(upstream):
    with openai.OpenAI(base_url=upstream.base_url, api_key=KEY, max_retries=0) as sdk:
        yield sdk


def test_a_completion_echoes_the_last_message_and_counts_words(upstream, client):
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-4o-mini"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "echo: hello there  world"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == 5
    assert completion.usage.completion_tokens == 4
    assert completion.usage.total_tokens == 9
    upstream.wait_for(lambda upstream: upstream.requests[-1].finished)
    [record] = upstream.requests
    assert record.model == "gpt-4o-mini"
    assert record.body == {"model": "gpt-4o-mini", "messages": HELLO}
    assert record.authorization == f"Bearer {KEY}"
    assert record.stream is False
    assert record.cancelled is False


def test_the_texts_of_content_parts_are_joined(client):
    parts = [{"type": "text", "text": "one two"}, {"type": "text", "text": "three"}]

    completion = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": parts}])

    assert completion.choices[0].message.content == "echo: one two three"
    assert completion.usage.prompt_tokens == 3


def test_a_stream_joins_to_the_answer_with_no_usage_unless_asked(upstream, client):
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True))

    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    assert [chunk.choices[0].delta.content for chunk in chunks[1:-1]] == [
        "echo: ",
        "hello ",
        "there  ",
        "world",
    ]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].choices[0].delta.content is None
    assert all(chunk.object == "chat.completion.chunk" and chunk.usage is None for chunk in chunks)
    upstream.wait_for(lambda upstream: upstream.requests[-1].finished)
    assert upstream.requests[-1].stream is True


def test_a_stream_ends_with_the_usage_when_asked(client):
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    assert (
        "".join(chunk.choices[0].delta.content or "" for chunk in chunks[:-1]) == "echo: hello there  world"
    )
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (5, 4)


def test_the_stream_is_server_sent_events_written_as_they_come(upstream):
    body = {"model": "slow-50", "messages": HELLO, "stream": True}
    headers = {"Authorization": f"Bearer {KEY}"}

    with httpx.stream(
        "POST", f"{upstream.base_url}/chat/completions", json=body, headers=headers
    ) as response:
        pieces = list(response.iter_raw())

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert len(pieces) == 7  # role, four words, finish, [DONE]: one read each, 50 ms apart
    assert all(
        piece.startswith(b'data: {"id":"chatcmpl-') and piece.endswith(b"}\n\n") for piece in pieces[:-1]
    )
    assert pieces[-1] == b"data: [DONE]\n\n"


def test_a_timed_stream_spreads_its_words_over_the_seconds_asked(client):
    started = time.monotonic()
    chunks = list(client.chat.completions.create(model="stream-0.3-3", messages=HELLO, stream=True))

    assert time.monotonic() - started >= 0.3
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == "w1 w2 w3"


def test_a_slow_model_waits_before_answering(client):
    started = time.monotonic()
    completion = client.chat.completions.create(model="slow-200", messages=HELLO)

    assert time.monotonic() - started >= 0.2
    assert completion.choices[0].message.content == "echo: hello there  world"


def test_a_wrong_key_is_refused_and_recorded(upstream):
    with openai.OpenAI(base_url=upstream.base_url, api_key="sk-wrong", max_retries=0) as sdk:
        with pytest.raises(openai.AuthenticationError) as refused:
            sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        with pytest.raises(openai.AuthenticationError):
            sdk.models.list()

    assert refused.value.status_code == 401
    assert refused.value.code == "invalid_api_key"
    assert refused.value.body["message"] == "Incorrect API key provided"
    assert upstream.requests[-1].authorization == "Bearer sk-wrong"


@pytest.mark.parametrize(
    ("model", "error", "status"),
    [
        ("fail-500", openai.InternalServerError, 500),
        ("rate-limited", openai.RateLimitError, 429),
        ("bad-request", openai.BadRequestError, 400),
    ],
)
def test_a_failing_model_fails_with_a_detail_the_relay_must_not_echo(upstream, client, model, error, status):
    with pytest.raises(error) as failed:
        client.chat.completions.create(model=model, messages=HELLO)

    assert failed.value.status_code == status
    assert UPSTREAM_SECRET_TEXT in failed.value.body["message"]
    assert failed.value.response.headers.get("Retry-After") == ("1" if status == 429 else None)
    upstream.wait_for(lambda upstream: upstream.requests[-1].finished)


def test_a_hang_is_recorded_as_cancelled_when_the_client_gives_up(upstream, client):
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="hang", messages=HELLO, timeout=0.3)

    upstream.wait_for(lambda upstream: upstream.requests[-1].cancelled)
    assert upstream.requests[-1].finished is False


def test_a_stream_closed_by_the_client_is_recorded_as_cancelled(upstream, client):
    stream = client.chat.completions.create(model="slow-100", messages=HELLO, stream=True)
    first = next(iter(stream))
    stream.close()

    assert first.choices[0].delta.role == "assistant"
    upstream.wait_for(lambda upstream: upstream.requests[-1].cancelled)
    assert upstream.requests[-1].finished is False


def test_a_disconnect_cuts_a_stream_after_two_words(upstream, client):
    stream = client.chat.completions.create(model="disconnect", messages=HELLO, stream=True)
    received = []
    with pytest.raises(openai.APIConnectionError) as cut:
        received.extend(chunk.choices[0].delta.content for chunk in stream)

    assert received == ["", "echo: ", "hello "]
    assert "incomplete chunked read" in str(cut.value.__cause__)  # httpx2 (the SDK's own)
    assert (upstream.requests[-1].finished, upstream.requests[-1].cancelled) == (False, False)


def test_a_disconnect_sends_no_answer_at_all(upstream, client):
    with pytest.raises(openai.APIConnectionError) as cut:
        client.chat.completions.create(model="disconnect", messages=HELLO)

    assert str(cut.value.__cause__) == "Server disconnected without sending a response."
    assert (upstream.requests[-1].finished, upstream.requests[-1].cancelled) == (False, False)


def test_the_models_are_listed(client):
    models = client.models.list().data

    assert [model.id for model in models] == ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"]
    assert {(model.object, model.created, model.owned_by) for model in models} == {("model", 0, "fake")}


def test_wait_for_says_what_it_waited_for_and_reset_forgets(upstream, client):
    client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    with pytest.raises(AssertionError, match=r"did not reach .*<lambda> within 0.1 s; its requests: \[ChatR"):
        upstream.wait_for(lambda upstream: upstream.requests[-1].cancelled, timeout=0.1)
    upstream.reset()
    assert upstream.requests == []


def test_it_runs_as_a_process_of_its_own_until_sigterm():
    port = free_port()
    command = [sys.executable, "-m", "testing.fake_openai", "--port", str(port), "--key", KEY]
    process = subprocess.Popen(
        command, cwd=PROJECT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        readable, _, _ = select.select([process.stdout], [], [], 10)
        assert readable, "no line on stdout within 10 s"
        assert process.stdout.readline() == f"listening on http://127.0.0.1:{port}/v1\n"
        with openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0) as sdk:
            completion = sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        assert completion.choices[0].message.content == "echo: hello there  world"

        process.terminate()
        assert process.wait(timeout=5) == 0
    finally:
        stop(process, timeout=1)
        process.stdout.close()
