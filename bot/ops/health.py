"""What the operator (and Docker's HEALTHCHECK, and Prometheus) asks a running `mentor serve`.

`/healthz` answers 200 when students can be answered as configured (every platform
connected, the index reachable, the model loaded) and 503 otherwise, with the reason
of each part in JSON. `/metrics` is the Prometheus text format. The index and the
model are watched in the background, so a health probe never waits on them (or on
the worker queue that questions use).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal, Protocol

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.app import MentorApp
from bot.config.sections import HealthSettings
from bot.errors import BotError
from bot.ops.http_site import listen, local_url
from bot.ops.metrics import CONTENT_TYPE, Metrics
from bot.service.dedupe import EventDeduper
from bot.status import ModelStatus
from rag.errors import RagError

log = logging.getLogger(__name__)

RETRY_FIRST_S = 1.0
RETRY_MAX_S = 30.0
PING_EVERY_S = 15.0

Announce = Callable[[str], None]


class Connected(Protocol):
    name: str

    def is_connected(self) -> bool: ...


@dataclass
class PartState:
    ok: bool = False
    problem: str | None = "not checked yet"
    since: float = field(default_factory=time.time)

    def set(self, ok: bool, problem: str | None) -> bool:
        """Record the state; True when it changed (worth a log line)."""
        changed = ok != self.ok or (problem is None) != (self.problem is None)
        self.ok, self.problem = ok, problem
        if changed:
            self.since = time.time()
        return changed

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "problem": self.problem, "since": datetime.fromtimestamp(self.since, tz=timezone.utc).isoformat()}


class BackgroundWatch:
    """Checks a part at once, then with backoff while it is down and now and then while it is up."""

    name = "part"

    def __init__(self, mentor: MentorApp, announce: Announce) -> None:
        self.mentor = mentor
        self.announce = announce
        self.state = PartState()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """One attempt now (so a healthy start reports at once), the rest in the background."""
        await self._check(first=True)
        self._task = asyncio.create_task(self._watch(), name=f"{self.name}-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _watch(self) -> None:
        delay = RETRY_FIRST_S
        while True:
            await asyncio.sleep(delay if not self.state.ok else PING_EVERY_S)
            await self._check()
            delay = RETRY_FIRST_S if self.state.ok else min(delay * 2, RETRY_MAX_S)

    async def _check(self, first: bool = False) -> None:
        raise NotImplementedError


class IndexWatch(BackgroundWatch):
    """Connects to Milvus with backoff until it answers, then pings it now and then.

    An unreachable server at startup does not stop `mentor serve`: questions get a
    clear "try again" meanwhile, health says why, and answers resume when it returns.
    """

    name = "index"

    async def _check(self, first: bool = False) -> None:
        try:
            await self.mentor.offloader.run(self.mentor.index.ping)
        except BotError:  # the worker queue is full of questions: not news about the index
            return
        except RagError as exc:
            if self.state.set(False, str(exc)) or first:
                self.announce(f"index unreachable, retrying in the background: {exc}")
            return
        if self.state.set(True, None) and not first:
            self.announce(f"index reachable again: {self.mentor.settings.milvus_uri_resolved}")


class StateWatch(BackgroundWatch):
    """Pings the state database. Down, it costs votes and the instructor's page, never an answer:
    the question log's writes fail alone, and the engine reconnects when the server is back."""

    name = "state"

    async def _check(self, first: bool = False) -> None:
        try:
            await self.mentor.offloader.run(self.mentor.database.check)
        except BotError:
            return
        except SQLAlchemyError as exc:
            if self.state.set(False, f"{self.mentor.database.shown_url}: {str(getattr(exc, 'orig', exc)).strip()}"):
                self.announce(f"state database unreachable (answers go on, votes are lost meanwhile): {self.state.problem}")
            return
        if self.state.set(True, None) and not first:
            self.announce(f"state database reachable again: {self.mentor.database.shown_url}")


class ModelWatch:
    """Loads the in-process model at startup, so the first student does not wait for it.

    Awaited before the platforms start: llama.cpp silences the whole process's stdout and
    stderr while it loads, so nothing else should be saying anything meanwhile.
    """

    def __init__(self, mentor: MentorApp) -> None:
        self.mentor = mentor
        self.state = PartState(problem="loading")

    async def load(self, status: ModelStatus) -> None:
        """Load the model `status` describes (already checked by the caller) and record how it went."""
        if status.problem:
            self.state.set(False, status.problem)
            return
        load = getattr(self.mentor.language_model, "load", None)
        try:
            if load is not None:
                await self.mentor.offloader.run(load)
        except RagError as exc:
            self.state.set(False, str(exc))
            return
        self.state.set(True, None)


class HealthServer:
    """`/healthz` and `/metrics` on `health.host:health.port`."""

    def __init__(
        self,
        settings: HealthSettings,
        metrics: Metrics,
        platforms: Sequence[Connected],
        index: IndexWatch,
        model: ModelWatch,
        deduper: EventDeduper,
        state: StateWatch | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.platforms = platforms
        self.index = index
        self.model = model
        self.deduper = deduper
        self.state = state
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return local_url(self.settings.host, self.settings.port)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = await listen(
            app, self.settings.host, self.settings.port,
            "MENTOR_HEALTH__HOST, MENTOR_HEALTH__PORT; MENTOR_HEALTH__ENABLED=false turns health off",
        )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def report(self) -> tuple[Literal["ok", "unhealthy"], dict[str, object]]:
        platforms = {platform.name: platform.is_connected() for platform in self.platforms}
        dedupe_problem = await self.deduper.check()
        healthy = all(platforms.values()) and self.index.state.ok and self.model.state.ok
        return ("ok" if healthy else "unhealthy"), {
            "status": "ok" if healthy else "unhealthy",
            "platforms": platforms,
            "index": self.index.state.to_json(),
            "model": self.model.state.to_json(),
            # Dedupe fails open (a rare double answer beats silence), so it never makes the bot unhealthy.
            "dedupe": {"ok": dedupe_problem is None, "problem": dedupe_problem},
            # The state database down costs votes and the instructor's page, not answers: reported, not unhealthy.
            **({"state": self.state.state.to_json()} if self.state is not None else {}),
        }

    async def _healthz(self, request: web.Request) -> web.Response:
        status, body = await self.report()
        return web.json_response(body, status=200 if status == "ok" else 503, headers={"Cache-Control": "no-store"})

    async def _metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=self.metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response
