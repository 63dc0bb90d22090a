"""The change manifest: what each index generation holds, file by file, in SQLite.

A generation is one collection of a course's index (see `rag.index.generation_name`).
An entry moves forward only after the index write for that file succeeded, so a
crash or a failed file never makes the manifest claim more than the index has, and
an interrupted rebuild resumes where it stopped.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from ingest.sqlite_file import open_database
from models import IngestReport

SCHEMA = """
CREATE TABLE IF NOT EXISTS generation_files (
    generation TEXT NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    chunks INTEGER NOT NULL,
    ingested_at REAL NOT NULL,
    PRIMARY KEY (generation, source)
);
CREATE TABLE IF NOT EXISTS generation_assets (
    generation TEXT NOT NULL,
    source TEXT NOT NULL,
    asset TEXT NOT NULL,
    PRIMARY KEY (generation, source, asset)
);
CREATE TABLE IF NOT EXISTS courses (
    course TEXT PRIMARY KEY,
    fingerprint TEXT,
    sources TEXT,
    last_report TEXT,
    last_ingest_at REAL
);
"""

# What the manifest keeps per generation and file.
FILE_TABLES = ("generation_files", "generation_assets")


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    chunks: int


@dataclass(frozen=True)
class CourseRecord:
    fingerprint: str | None
    sources: list[str]
    last_report: IngestReport | None
    last_ingest_at: float | None


class Manifest:
    """Per-course file hashes, the index fingerprint, remembered sources and the last report."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        return open_database(self.path, SCHEMA)

    def files(self, generation: str) -> dict[str, FileRecord]:
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT source, sha256, chunks FROM generation_files WHERE generation = ?", (generation,)
            ).fetchall()
        return {source: FileRecord(sha256, chunks) for source, sha256, chunks in rows}

    def record_file(self, generation: str, source: str, sha256: str, chunks: int, assets: Sequence[str] = ()) -> None:
        """`assets`: the course files the document embeds (an HTML page's images), served with it."""
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT OR REPLACE INTO generation_files (generation, source, sha256, chunks, ingested_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (generation, source, sha256, chunks, time.time()),
            )
            db.execute("DELETE FROM generation_assets WHERE generation = ? AND source = ?", (generation, source))
            db.executemany(
                "INSERT OR IGNORE INTO generation_assets (generation, source, asset) VALUES (?, ?, ?)",
                [(generation, source, asset) for asset in assets],
            )

    def copy_file(self, from_generation: str, to_generation: str, source: str) -> None:
        """Give `to_generation` the entry `from_generation` has for one file, hash and assets alike."""
        with closing(self._connect()) as db, db:
            for table in FILE_TABLES:
                db.execute(f"DELETE FROM {table} WHERE generation = ? AND source = ?", (to_generation, source))
            db.execute(
                "INSERT INTO generation_files SELECT ?, source, sha256, chunks, ingested_at FROM generation_files "
                "WHERE generation = ? AND source = ?",
                (to_generation, from_generation, source),
            )
            db.execute(
                "INSERT INTO generation_assets SELECT ?, source, asset FROM generation_assets WHERE generation = ? AND source = ?",
                (to_generation, from_generation, source),
            )

    def publishes(self, generation: str, name: str) -> bool:
        """Whether `name` is a file the generation indexed, or one that an indexed page embeds."""
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT 1 FROM generation_files WHERE generation = ? AND source = ? "
                "UNION ALL SELECT 1 FROM generation_assets WHERE generation = ? AND asset = ? LIMIT 1",
                (generation, name, generation, name),
            ).fetchone()
        return row is not None

    def forget_file(self, generation: str, source: str) -> None:
        with closing(self._connect()) as db, db:
            for table in FILE_TABLES:
                db.execute(f"DELETE FROM {table} WHERE generation = ? AND source = ?", (generation, source))

    def keep_only(self, generation: str, prefix: str) -> None:
        """Forget every other generation named with `prefix`: the index dropped them."""
        with closing(self._connect()) as db, db:
            for table in FILE_TABLES:
                db.execute(
                    f"DELETE FROM {table} WHERE substr(generation, 1, ?) = ? AND generation != ?",
                    (len(prefix), prefix, generation),
                )

    def course(self, course: str) -> CourseRecord:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT fingerprint, sources, last_report, last_ingest_at FROM courses WHERE course = ?", (course,)
            ).fetchone()
        if row is None:
            return CourseRecord(None, [], None, None)
        fingerprint, sources, report, at = row
        return CourseRecord(
            fingerprint,
            json.loads(sources or "[]"),
            IngestReport.model_validate_json(report) if report else None,
            at,
        )

    def record_run(self, report: IngestReport, sources: list[str], fingerprint: str) -> None:
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT INTO courses (course, fingerprint, sources, last_report, last_ingest_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(course) DO UPDATE SET fingerprint = excluded.fingerprint, sources = excluded.sources, "
                "last_report = excluded.last_report, last_ingest_at = excluded.last_ingest_at",
                (report.course, fingerprint, json.dumps(sources), report.model_dump_json(), time.time()),
            )
