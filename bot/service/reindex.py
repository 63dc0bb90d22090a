"""One reindex service for every trigger: the schedule, chat slash commands and the CLI.

Single-flight per course across threads, processes and, on PostgreSQL, hosts (`ReindexLocks`): a second
request is told who started the running one and when, and never starts another.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.app import MentorApp
from bot.errors import ReindexBusyError
from bot.ops.metrics import Metrics
from bot.store.history import RunRecord, Trigger
from ingest.errors import IngestError
from ingest.pipeline import ProgressCallback
from models import Course
from rag.errors import RagError

log = logging.getLogger(__name__)

ReportSink = Callable[[Course, RunRecord], Awaitable[None]]
"""Posts a reindex run's report to the course's `report_channel` (a chat adapter provides it)."""


class ReindexService:
    """`reindex(course, trigger, requested_by)`: the incremental ingest, recorded, one at a time per course."""

    def __init__(self, mentor: MentorApp, metrics: Metrics | None = None) -> None:
        self.mentor = mentor
        self.history = mentor.run_history
        self.locks = mentor.reindex_locks
        self.metrics = metrics

    def reindex(
        self, course_name: str | None, trigger: Trigger, requested_by: str, on_progress: ProgressCallback | None = None
    ) -> RunRecord:
        """Run now, blocking; raises `ReindexBusyError` while another run of the course is going.

        `on_progress(done, total, source)` is called on the worker thread as files are read.
        """
        course = self.mentor.course(course_name)
        lock = self.locks.for_course(course.name)
        lock.acquire(trigger, requested_by)
        run_id: int | None = None
        try:
            run_id = self.history.start(course.name, trigger, requested_by)
            try:
                report = self.mentor.ingest(course.name, on_progress=on_progress)
            except (IngestError, RagError) as exc:
                self.history.finish(run_id, "error", error=str(exc))
                log.warning("reindex of %s failed: %s", course.name, exc)
                raise
            except BaseException as exc:
                self.history.finish(run_id, "error", error=f"{type(exc).__name__}: {exc}")
                raise
            self.history.finish(run_id, "failed files" if report.failed else "ok", report)
            return self.history.get(run_id)
        finally:
            lock.release()
            if self.metrics is not None and run_id is not None:
                record = self.history.get(run_id)
                self.metrics.reindexed(record.course, record.outcome, record.seconds)

    async def reindex_async(
        self, course_name: str | None, trigger: Trigger, requested_by: str, on_progress: ProgressCallback | None = None
    ) -> RunRecord:
        """The same, on the reindex worker (`on_progress` runs there); waits behind other courses' runs.

        A run of the course already going is refused at once, not queued to run again after it.
        """
        running = self.locks.running(course_name or self.mentor.settings.course_names()[0])
        if running is not None:
            raise ReindexBusyError(running.describe(), running)
        return await self.mentor.offloader.run_reindex(self.reindex, course_name, trigger, requested_by, on_progress)
