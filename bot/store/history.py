"""Every reindex run — who asked, when, what changed, how it ended — in the state database."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from sqlalchemy import ColumnElement, insert, select, true, update

from bot.store.database import Database
from bot.store.tables import runs
from models import IngestReport

Trigger = Literal["schedule", "slash command", "cli", "admin page"]
Outcome = Literal["running", "ok", "failed files", "error", "interrupted"]


@dataclass(frozen=True)
class RunRecord:
    id: int
    course: str
    trigger: str
    requested_by: str
    started_at: datetime
    seconds: float | None
    outcome: str
    report: IngestReport | None
    error: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "course": self.course,
            "trigger": self.trigger,
            "requested_by": self.requested_by,
            "started_at": self.started_at.isoformat(),
            "seconds": None if self.seconds is None else round(self.seconds, 2),
            "outcome": self.outcome,
            "report": self.report.model_dump() if self.report else None,
            "error": self.error,
        }

    def summary(self) -> str:
        """One line for chat and the terminal."""
        when = f"{self.started_at:%Y-%m-%d %H:%M} UTC"
        who = f"{self.trigger} by {self.requested_by}" if self.trigger != "schedule" else "schedule"
        if self.report is not None:
            return f"{when} ({who}): {self.report.summary()}"
        return f"{when} ({who}): {self.outcome}" + (f": {self.error}" if self.error else "")


class RunHistory:
    def __init__(self, database: Database) -> None:
        self.engine = database.engine

    def start(self, course: str, trigger: Trigger, requested_by: str) -> int:
        """Open a run. The caller holds the course's reindex lock, so an earlier run still
        marked running was killed: it is marked interrupted."""
        with self.engine.begin() as db:
            db.execute(update(runs).where(runs.c.course == course, runs.c.outcome == "running").values(outcome="interrupted"))
            inserted = db.execute(
                insert(runs).values(course=course, trigger=trigger, requested_by=requested_by, started_at=time.time(), outcome="running")
            )
            return int(inserted.inserted_primary_key[0])

    def finish(self, run_id: int, outcome: Outcome, report: IngestReport | None = None, error: str | None = None) -> None:
        with self.engine.begin() as db:
            db.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(
                    outcome=outcome,
                    report=report.model_dump_json() if report else None,
                    error=error,
                    seconds=time.time() - runs.c.started_at,
                )
            )

    def runs(self, course: str | None = None, limit: int = 20) -> list[RunRecord]:
        """The latest runs first."""
        return self._select(true() if course is None else runs.c.course == course, limit)

    def get(self, run_id: int) -> RunRecord:
        return self._select(runs.c.id == run_id, 1)[0]

    def _select(self, where: ColumnElement[bool], limit: int) -> list[RunRecord]:
        query = select(runs).where(where).order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(limit)
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [
            RunRecord(
                id=row.id,
                course=row.course,
                trigger=row.trigger,
                requested_by=row.requested_by,
                started_at=datetime.fromtimestamp(row.started_at, tz=timezone.utc),
                seconds=row.seconds,
                outcome=row.outcome,
                report=IngestReport.model_validate_json(row.report) if row.report else None,
                error=row.error,
            )
            for row in rows
        ]

    def last(self, course: str) -> RunRecord | None:
        latest = self.runs(course, limit=1)
        return latest[0] if latest else None
