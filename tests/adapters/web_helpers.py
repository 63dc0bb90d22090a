"""Running the web platform for tests: on the test's own loop, or on a loop in a thread (for a browser)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from adapters.web import WebPlatform
from bot.app import MentorApp
from bot.config.sections import WebSettings
from bot.service.commands import ChatCommands
from tests.conftest import free_port

Event = tuple[str, Any]


@dataclass
class Web:
    platform: WebPlatform
    commands: ChatCommands
    session: aiohttp.ClientSession
    base: str

    async def ask(self, payload: object) -> list[Event]:
        async with self.session.post(self.base + "/api/ask", json=payload) as response:
            assert response.status == 200, await response.text()
            assert response.content_type == "text/event-stream"
            return await read_events(response)


async def read_events(response: aiohttp.ClientResponse, stop_after: str | None = None) -> list[Event]:
    """The server-sent events of a response, in order (`stop_after`: return at the first event of that name)."""
    events: list[Event] = []
    name = "message"
    async for raw in response.content:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line.startswith("event:"):
            name = line[len("event:"):].strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line[len("data:"):])))
            if name == stop_after:
                break
    return events


def web_settings(mentor: MentorApp, **web: Any):
    return mentor.settings.model_copy(update={"web": WebSettings(**({"port": free_port()} | web))})


def run_web(mentor: MentorApp, scenario: Callable[[Web], Awaitable[None]], **web: Any) -> None:
    """Start the platform on a free port, run `scenario` with a client session, then stop it."""

    async def main() -> None:
        settings = web_settings(mentor, **web)
        commands = ChatCommands(mentor)
        platform = WebPlatform(settings, commands)
        await platform.start()
        try:
            async with aiohttp.ClientSession() as session:
                await scenario(Web(platform, commands, session, f"http://127.0.0.1:{settings.web.port}"))
        finally:
            await platform.stop()

    asyncio.run(main())


class ServedInThread:
    """The platform on its own event loop in a thread, for a browser driven from the test's thread."""

    def __init__(self, mentor: MentorApp, **web: Any) -> None:
        self.settings = web_settings(mentor, **web)
        self.commands = ChatCommands(mentor)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="web-platform", daemon=True)
        self.platform: WebPlatform | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web.port}"

    def __enter__(self) -> ServedInThread:
        self.thread.start()
        self.platform = self._call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.platform is not None:
            self._call(self.platform.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _start(self) -> WebPlatform:
        platform = WebPlatform(self.settings, self.commands)
        await platform.start()
        return platform

    def _call(self, work: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(60)  # type: ignore[arg-type]
