"""Calling the relay in process (Django's AsyncClient), as the tests of ai_scripts do."""

import json
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.test import AsyncClient

from ai_scripts.tests.conftest import RELAY_KEY

CHAT = "/api/ai/v1/chat/completions"
MODELS = "/api/ai/v1/models"


@dataclass
class Answer:
    status: int
    headers: dict
    content: bytes

    def json(self):
        return json.loads(self.content)

    @property
    def error(self) -> dict:
        return self.json()["error"]

    def events(self) -> list:
        """The streamed events' data, `[DONE]` as a string, the rest parsed."""
        blocks = [block for block in self.content.decode().split("\n\n") if block]
        data = [block.removeprefix("data: ") for block in blocks]
        return [item if item == "[DONE]" else json.loads(item) for item in data]


def relay(access: str | None, body=None, *, method: str = "post", path: str = CHAT, raw: bytes | None = None):
    """The relay's answer to one request; it never holds the provider's key."""

    async def call():
        headers = {"Authorization": f"Bearer {access}"} if access else {}
        client = AsyncClient()
        if method == "post":
            data = raw if raw is not None else json.dumps(body)
            response = await client.post(path, data=data, content_type="application/json", headers=headers)
        else:
            response = await getattr(client, method)(path, headers=headers)
        if response.streaming:
            content = b"".join([chunk async for chunk in response.streaming_content])
        else:
            content = response.content
        return Answer(response.status_code, dict(response.headers), content)

    answer = async_to_sync(call)()
    assert RELAY_KEY not in answer.content.decode("utf-8", "replace")
    assert RELAY_KEY not in json.dumps(answer.headers)
    return answer
