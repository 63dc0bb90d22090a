"""What `mentor status`, the admin page and health report: each course's index, the model and the reranker."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from bot.config.settings import cron_trigger
from bot.store.history import RunRecord
from bot.store.reindex_lock import RunningReindex
from ingest.calendar import upcoming_release
from ingest.declared_assignment import with_declared
from ingest.git_source import redact
from models import Assignment, Course, IngestReport
from rag.index import collection_name
from rag.model_probe import ProbeResult

if TYPE_CHECKING:
    from bot.app import MentorApp


@dataclass(frozen=True)
class CourseStatus:
    course: Course
    documents: int
    chunks: int
    last_ingest_at: datetime | None
    last_report: IngestReport | None
    collection: str
    last_run: RunRecord | None
    running: RunningReindex | None
    next_run: datetime | None
    """When the course's schedule fires next (it runs while `mentor serve` does)."""
    next_release: tuple[datetime, list[str]] | None = None
    """When material is released next, in the course's zone, and which files (`mentor calendar` shows the term)."""
    now: datetime | None = None
    """The moment the status was taken, by the app's clock: which assignment policies are active."""
    escalations_open: int = 0
    """Questions waiting in the course's TA queue."""
    oldest_escalation_s: float | None = None

    def assignment_modes(self) -> list[tuple[Assignment, str]]:
        """Each assignment and the mode its questions are answered under now."""
        if self.now is None:
            return []
        return [(assignment, assignment.mode_at(self.now)) for assignment in sorted(self.course.assignments, key=lambda a: a.due)]

    @property
    def repository(self) -> str | None:
        """The course's Git URL as it may be shown: credentials in it are hidden."""
        return redact(self.course.repository) if self.course.repository else None

    def to_json(self) -> dict[str, object]:
        return {
            "course": self.course.name,
            "sources": [str(source) for source in self.course.sources],
            "repository": self.repository,
            "base_url": self.course.base_url,
            "last_run": self.last_run.to_json() if self.last_run else None,
            "running": self.running.describe() if self.running else None,
            "next_run": self.next_run.isoformat() if self.next_run else None,
            "documents": self.documents,
            "chunks": self.chunks,
            "last_ingest": self.last_ingest_at.isoformat() if self.last_ingest_at else None,
            "last_report": self.last_report.model_dump() if self.last_report else None,
            "collection": self.collection,
            "assignments": [
                {"name": assignment.name, "due": assignment.due.isoformat(), "mode_now": mode}
                for assignment, mode in self.assignment_modes()
            ],
            "next_release": (
                {"at": self.next_release[0].isoformat(), "files": self.next_release[1]} if self.next_release else None
            ),
            "escalations": {"open": self.escalations_open, "oldest_s": _rounded(self.oldest_escalation_s)},
        }


@dataclass(frozen=True)
class ModelStatus:
    """What answers students: shown by `mentor status`, so the demo model never passes unnoticed."""

    name: str
    location: str
    """The GGUF path, or the server's URL."""
    ready: bool
    problem: str | None
    demo: bool
    gpu_offload: bool | None
    """None for a server, whose hardware this process cannot see."""
    warning: str | None = None
    """Works, but not as configured: a GPU is wanted and this llama.cpp build is CPU-only."""
    probe: ProbeResult | None = None
    """How loading the model in a test process went (in-process llama.cpp only)."""

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "location": self.location,
            "ready": self.ready,
            "problem": self.problem,
            "demo": self.demo,
            "gpu_offload": self.gpu_offload,
            "warning": self.warning,
            "probe": self.probe.to_json() if self.probe else None,
        }


@dataclass(frozen=True)
class RerankerStatus:
    """Which reranker orders search hits: one that cannot run must not pass unnoticed, since search
    then quietly keeps the first stage's order."""

    name: str
    problem: str | None

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "ready": self.problem is None, "problem": self.problem}


def _rounded(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds)


def course_status(mentor: MentorApp, name: str) -> CourseStatus:
    """What `mentor status`, `/mentor status` and the admin page show of one course."""
    record = mentor.manifest.course(name)
    course = with_declared(mentor.course(name), record.last_report)
    live = mentor.index.live_generation(name)
    waiting = mentor.escalations.open_ones(name)
    return CourseStatus(
        course=course,
        documents=len(mentor.manifest.files(live)) if live else 0,
        chunks=mentor.index.count_chunks(name),
        last_ingest_at=datetime.fromtimestamp(record.last_ingest_at, tz=timezone.utc) if record.last_ingest_at else None,
        last_report=record.last_report,
        collection=live or collection_name(name),
        last_run=mentor.run_history.last(name),
        running=mentor.reindex_locks.running(name),
        next_run=cron_trigger(course).get_next_fire_time(None, datetime.now(timezone.utc)),
        next_release=upcoming_release(course.model_copy(update={"sources": mentor.source_roots(course)}), mentor.clock()),
        now=mentor.clock(),
        escalations_open=len(waiting),
        oldest_escalation_s=(time.time() - waiting[0].created_at.timestamp()) if waiting else None,
    )
