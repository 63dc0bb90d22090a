"""Every reindex run — who asked, when, what changed, how it ended — in a small SQLite file."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from ingest.sqlite_file import open_database
from models import IngestReport

Trigger = Literal["schedule", "slash command", "cli", "admin page"]
Outcome = Literal["running", "ok", "failed files", "error", "interrupted"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    course TEXT NOT NULL,
    trigger TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    started_at REAL NOT NULL,
    seconds REAL,
    outcome TEXT NOT NULL,
    report TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_course ON runs (course, started_at);
"""


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
    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        return open_database(self.path, SCHEMA)

    def start(self, course: str, trigger: Trigger, requested_by: str) -> int:
        """Open a run. The caller holds the course's reindex lock, so an earlier run still
        marked running was killed: it is marked interrupted."""
        with closing(self._connect()) as db, db:
            db.execute("UPDATE runs SET outcome = 'interrupted' WHERE course = ? AND outcome = 'running'", (course,))
            cursor = db.execute(
                "INSERT INTO runs (course, trigger, requested_by, started_at, outcome) VALUES (?, ?, ?, ?, 'running')",
                (course, trigger, requested_by, time.time()),
            )
            return int(cursor.lastrowid or 0)

    def finish(self, run_id: int, outcome: Outcome, report: IngestReport | None = None, error: str | None = None) -> None:
        with closing(self._connect()) as db, db:
            db.execute(
                "UPDATE runs SET outcome = ?, report = ?, error = ?, seconds = ? - started_at WHERE id = ?",
                (outcome, report.model_dump_json() if report else None, error, time.time(), run_id),
            )

    def runs(self, course: str | None = None, limit: int = 20) -> list[RunRecord]:
        """The latest runs first."""
        if course is None:
            return self._select("1 = 1", (), limit)
        return self._select("course = ?", (course,), limit)

    def get(self, run_id: int) -> RunRecord:
        return self._select("id = ?", (run_id,), 1)[0]

    def _select(self, where: str, arguments: tuple[object, ...], limit: int) -> list[RunRecord]:
        query = f"SELECT id, course, trigger, requested_by, started_at, seconds, outcome, report, error FROM runs WHERE {where}"
        with closing(self._connect()) as db:
            rows = db.execute(query + " ORDER BY started_at DESC, id DESC LIMIT ?", (*arguments, limit)).fetchall()
        return [
            RunRecord(
                id=row[0],
                course=row[1],
                trigger=row[2],
                requested_by=row[3],
                started_at=datetime.fromtimestamp(row[4], tz=timezone.utc),
                seconds=row[5],
                outcome=row[6],
                report=IngestReport.model_validate_json(row[7]) if row[7] else None,
                error=row[8],
            )
            for row in rows
        ]

    def last(self, course: str) -> RunRecord | None:
        runs = self.runs(course, limit=1)
        return runs[0] if runs else None
