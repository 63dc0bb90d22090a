"""The scheduled re-ingest: each course's cron expression, run by APScheduler on the event loop.

Every replica runs the schedule; each firing is claimed in the shared database first
(`ScheduleClaims`), so it runs on one replica only.
"""

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
from bot.store.schedule_claims import ScheduleClaims, due_slot
from ingest.errors import IngestError
from models import Course
from rag.errors import RagError

log = logging.getLogger(__name__)

class ReindexScheduler:
    """Runs each course's reindex on its schedule while `mentor serve` runs.

    Coalesced (runs missed while the process was down collapse into one), with a
    misfire grace time, jitter, and one run per course at a time.
    """

    def __init__(self, service: ReindexService, courses: list[Course], settings: ScheduleSettings, claims: ScheduleClaims) -> None:
        self.service = service
        self.courses = courses
        self.settings = settings
        self.claims = claims
        self.sinks: list[ReportSink] = []
        self._scheduler = AsyncIOScheduler(timezone=timezone.utc)
        self._triggers: dict[str, BaseTrigger] = {}

    def start(self, triggers: dict[str, BaseTrigger] | None = None) -> None:
        """Start on the running event loop; `triggers` replaces a course's cron (tests fire at once)."""
        for course in self.courses:
            trigger = (triggers or {}).get(course.name) or cron_trigger(course)
            self._triggers[course.name] = trigger
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

    async def run_course(self, course: Course, slot: datetime | None = None) -> RunRecord | None:
        """One scheduled run, its report posted; None when it did not run (another replica claimed
        this firing, another run holds the course, or the reindex queue is full, in which case it is
        tried again shortly). `slot`: the firing a retry belongs to; else the one due now."""
        slot = slot or self._due_slot(course.name)
        if slot is not None:
            claimed_by = await self.service.mentor.offloader.run(self.claims.claim, f"reindex {course.name}", slot)
            if claimed_by is not None:
                log.info("scheduled reindex of %s at %s runs on %s, not here", course.name, f"{slot:%H:%M:%S} UTC", claimed_by)
                return None
        try:
            record = await self.service.reindex_async(course.name, "schedule", "schedule")
        except ReindexBusyError as busy:
            log.info("scheduled reindex of %s skipped: %s", course.name, busy)
            return None
        except BusyError as busy:
            # The run never started: there is no report of it to post, and the last one is not news.
            log.warning("scheduled reindex of %s skipped: %s", course.name, busy)
            self._retry(course, slot)
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

    def _due_slot(self, course: str) -> datetime | None:
        """The nominal time of the firing running now: the trigger's last fire time up to now, looking
        back as far as a firing can run late (misfire grace and jitter). None when there is none."""
        trigger = self._triggers.get(course)
        if trigger is None:
            return None
        return due_slot(trigger, timedelta(seconds=self.settings.misfire_grace_seconds + self.settings.jitter_seconds + 60))

    def _retry(self, course: Course, slot: datetime | None) -> None:
        """One more try after `busy_retry_seconds`; a retry that finds the queue full again schedules the next."""
        if not self._scheduler.running:  # shutting down: the next start runs the schedule
            return
        when = datetime.now(timezone.utc) + timedelta(seconds=self.settings.busy_retry_seconds)
        self._scheduler.add_job(
            self.run_course,
            DateTrigger(when),
            args=[course, slot],
            id=f"{course.name} retry",
            name=f"reindex {course.name} (retry)",
            replace_existing=True,
            misfire_grace_time=self.settings.misfire_grace_seconds,
        )
        log.info("scheduled reindex of %s: trying again at %s", course.name, f"{when:%H:%M:%S} UTC")
