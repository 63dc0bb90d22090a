"""The scheduled re-ingest: each course's cron expression, run by APScheduler on the event loop."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger

from bot.config.sections import ScheduleSettings
from bot.config.settings import cron_trigger
from bot.errors import BotError, BusyError, ReindexBusyError
from bot.service.reindex import ReindexService, ReportSink
from bot.store.history import RunRecord
from ingest.errors import IngestError
from models import Course
from rag.errors import RagError

log = logging.getLogger(__name__)

class ReindexScheduler:
    """Runs each course's reindex on its schedule while `mentor serve` runs.

    Coalesced (runs missed while the process was down collapse into one), with a
    misfire grace time, jitter, and one run per course at a time.
    """

    def __init__(self, service: ReindexService, courses: list[Course], settings: ScheduleSettings) -> None:
        self.service = service
        self.courses = courses
        self.settings = settings
        self.sinks: list[ReportSink] = []
        self._scheduler = AsyncIOScheduler(timezone=timezone.utc)

    def start(self, triggers: dict[str, BaseTrigger] | None = None) -> None:
        """Start on the running event loop; `triggers` replaces a course's cron (tests fire at once)."""
        for course in self.courses:
            trigger = (triggers or {}).get(course.name) or cron_trigger(course)
            self._scheduler.add_job(
                self.run_course,
                trigger,
                args=[course],
                id=course.name,
                name=f"reindex {course.name}",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=self.settings.misfire_grace_seconds,
                jitter=self.settings.jitter_seconds or None,
            )
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def next_run(self, course: str) -> datetime | None:
        job = self._scheduler.get_job(course)
        return job.next_run_time if job else None

    async def run_course(self, course: Course) -> RunRecord | None:
        """One scheduled run, its report posted; None when it did not run (another run holds the
        course, or the reindex queue is full, in which case it is tried again shortly)."""
        try:
            record = await self.service.reindex_async(course.name, "schedule", "schedule")
        except ReindexBusyError as busy:
            log.info("scheduled reindex of %s skipped: %s", course.name, busy)
            return None
        except BusyError as busy:
            # The run never started: there is no report of it to post, and the last one is not news.
            log.warning("scheduled reindex of %s skipped: %s", course.name, busy)
            self._retry(course)
            return None
        except (BotError, IngestError, RagError) as exc:
            log.error("scheduled reindex of %s failed: %s", course.name, exc)
            record = self.service.history.last(course.name)
            if record is None:
                return None
        log.info("scheduled reindex: %s", record.summary())
        if record.report is None or record.report.changed_anything:
            for sink in self.sinks:
                try:
                    await sink(course, record)
                except Exception:  # a chat outage must not stop the schedule
                    log.exception("could not post the reindex report of %s", course.name)
        return record

    def _retry(self, course: Course) -> None:
        """One more try after `busy_retry_seconds`; a retry that finds the queue full again schedules the next."""
        if not self._scheduler.running:  # shutting down: the next start runs the schedule
            return
        when = datetime.now(timezone.utc) + timedelta(seconds=self.settings.busy_retry_seconds)
        self._scheduler.add_job(
            self.run_course,
            DateTrigger(when),
            args=[course],
            id=f"{course.name} retry",
            name=f"reindex {course.name} (retry)",
            replace_existing=True,
            misfire_grace_time=self.settings.misfire_grace_seconds,
        )
        log.info("scheduled reindex of %s: trying again at %s", course.name, f"{when:%H:%M:%S} UTC")
