"""What `mentor status`, the admin page and health report: each course's index, the model and the reranker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.store.history import RunRecord
from bot.store.reindex_lock import RunningReindex
from ingest.git_source import redact
from models import Assignment, Course, IngestReport
from rag.model_probe import ProbeResult


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
