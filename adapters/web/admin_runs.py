"""A reindex started from the instructor's page, followed live: its latest progress, its
outcome, and the server-sent events that carry both to the page."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import datetime, timezone
from urllib.parse import quote

from aiohttp import web

from adapters.web.admin_json import send_event
from bot.store.history import RunRecord
from bot.store.reindex_lock import RunningReindex

KEEPALIVE_SECONDS = 15.0
SERVER_STOPPING = "The server is stopping; the run's outcome will be in the reindex history."


class LiveRun:
    """A reindex started from this page: its latest progress and, once over, its outcome.

    Watchers wait on `changed`, which is replaced on every update, so a slow watcher
    skips to the latest progress instead of queueing every step.
    """

    def __init__(self, course: str, requested_by: str) -> None:
        self.course = course
        self.requested_by = requested_by
        self.started_at = datetime.now(timezone.utc)
        self.progress: dict[str, object] | None = None
        self.outcome: tuple[str, dict[str, object]] | None = None
        self.changed = asyncio.Event()

    @property
    def over(self) -> bool:
        return self.outcome is not None

    def busy_message(self) -> str:
        return RunningReindex(self.course, "admin page", self.requested_by, self.started_at, os.getpid()).describe()

    def handle(self) -> dict[str, object]:
        return {
            "course": self.course,
            "requested_by": self.requested_by,
            "started_at": self.started_at.isoformat(),
            "events": f"/admin/api/reindex/{quote(self.course)}/events",
        }

    def report_progress(self, done: int, total: int, source: str) -> None:
        if not self.over:
            self.progress = {"done": done, "total": total, "source": source}
            self._touch()

    def finish(self, record: RunRecord) -> None:
        self.outcome = ("done", {"record": record.to_json(), "summary": record.summary()})
        self._touch()

    def fail(self, message: str, *, busy: bool = False) -> None:
        self.outcome = ("error", {"message": message, "busy": busy})
        self._touch()

    def wake(self) -> None:
        self._touch()

    def _touch(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


async def stream_run(live: LiveRun, response: web.StreamResponse, stopping: Callable[[], bool]) -> None:
    """Send the run's progress as it changes, then its outcome; a comment keeps an idle stream open."""
    sent: dict[str, object] | None = None
    while True:
        changed = live.changed
        if live.progress is not sent and live.progress is not None:
            sent = live.progress
            await send_event(response, "progress", sent)
        if live.outcome is not None:
            await send_event(response, *live.outcome)
            return
        if stopping():
            await send_event(response, "error", {"message": SERVER_STOPPING, "busy": False})
            return
        try:
            await asyncio.wait_for(changed.wait(), KEEPALIVE_SECONDS)
        except TimeoutError:
            await response.write(b": keep-alive\n\n")
