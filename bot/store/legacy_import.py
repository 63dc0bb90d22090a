"""Bring the SQLite files of releases before the state database into it: `mentor db import`.

Those releases kept the run history and question log in `history.sqlite` and the ingest
catalog in `catalog.sqlite`, in the data dir. Importing copies their rows into whichever
database `database_url` names (a fresh SQLite file, or the PostgreSQL the replicas share);
questions get new ids there, and the votes and message links follow them. Rows the
target has already (a course's catalog, a linked message) are kept as they are. Each file
is imported once: a second import of it is refused, so nothing is counted twice.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Table, insert, select

from bot.errors import StateImportError
from bot.store.database import Database, upsert
from bot.store.tables import answer_messages, feedback, legacy_imports, questions, runs
from ingest.manifest import courses, generation_assets, generation_files

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    files: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if not self.files:
            return "nothing to import"
        counted = ", ".join(f"{count} {table}" for table, count in self.rows.items() if count) or "no rows"
        return f"imported {counted} from {', '.join(self.files)}"


def pending_files(database: Database, paths: tuple[Path, ...]) -> list[Path]:
    """The legacy files that exist and were not imported yet."""
    existing = [path for path in paths if path.is_file()]
    if not existing:
        return []
    with database.engine.connect() as db:
        done = set(db.execute(select(legacy_imports.c.source)).scalars())
    return [path for path in existing if str(path.resolve()) not in done]


def import_files(database: Database, paths: tuple[Path, ...]) -> ImportReport:
    """Import each file whole, in one transaction per file; raises `StateImportError` for one imported before."""
    report = ImportReport()
    for path in paths:
        if not path.is_file():
            continue
        with database.engine.begin() as db:
            source = str(path.resolve())
            when = db.execute(select(legacy_imports.c.imported_at).where(legacy_imports.c.source == source)).scalar()
            if when is not None:
                raise StateImportError(f"{path} was imported already, on {time.strftime('%Y-%m-%d %H:%M', time.gmtime(when))} UTC: importing it again would count its rows twice.")
            rows = _copy_file(db, path, report)
            db.execute(insert(legacy_imports).values(source=source, imported_at=time.time(), rows=rows))
        report.files.append(str(path))
    return report


def _copy_file(db: Connection, path: Path, report: ImportReport) -> int:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as old:
            old.row_factory = sqlite3.Row
            tables = {row[0] for row in old.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables & {"runs", "questions", "generation_files", "courses"}:
                raise StateImportError(f"{path} holds none of AI Mentor's tables (runs, questions, generation_files, courses): is it the right file?")
            total = 0
            if "runs" in tables:
                total += _copy(db, runs, [_without_id(row) for row in old.execute("SELECT * FROM runs ORDER BY id")], report)
            if "questions" in tables:
                total += _copy_questions(db, old, tables, report)
            for table in (generation_files, generation_assets, courses):
                if table.name in tables:
                    total += _copy(db, table, [dict(row) for row in old.execute(f"SELECT * FROM {table.name}")], report, keep_existing=True)
            return total
    except sqlite3.Error as exc:
        raise StateImportError(f"{path} cannot be read as SQLite: {exc}") from exc


def _copy_questions(db: Connection, old: sqlite3.Connection, tables: set[str], report: ImportReport) -> int:
    new_ids: dict[int, int] = {}
    for row in old.execute("SELECT * FROM questions ORDER BY id"):
        values = _without_id(row) | {"grounded": bool(row["grounded"])}
        new_ids[row["id"]] = int(db.execute(insert(questions).values(values)).inserted_primary_key[0])
    report.rows["questions"] = report.rows.get("questions", 0) + len(new_ids)
    total = len(new_ids)
    if "answer_messages" in tables:
        links = [dict(row) | {"question_id": new_ids[row["question_id"]]} for row in old.execute("SELECT * FROM answer_messages") if row["question_id"] in new_ids]
        total += _copy(db, answer_messages, links, report, keep_existing=True)
    if "feedback" in tables:
        votes = [
            {"question_id": new_ids[row["question_id"]], "platform": row["platform"], "voter": row["user"], "vote": row["vote"], "at": row["at"]}
            for row in old.execute("SELECT * FROM feedback")
            if row["question_id"] in new_ids
        ]
        total += _copy(db, feedback, votes, report, keep_existing=True)
    return total


def _copy(db: Connection, table: Table, rows: list[dict[str, object]], report: ImportReport, *, keep_existing: bool = False) -> int:
    keys = [column.name for column in table.primary_key.columns]
    if keep_existing:
        written = sum(upsert(db, table, row, keys, replace=False) for row in rows)
    else:
        written = len(rows)
        if rows:
            db.execute(insert(table), rows)
    report.rows[table.name] = report.rows.get(table.name, 0) + written
    return written


def _without_id(row: sqlite3.Row) -> dict[str, object]:
    return {key: row[key] for key in row.keys() if key != "id"}


def adopt(database: Database, paths: tuple[Path, ...]) -> None:
    """On the embedded default, import the data dir's old files at first start: an upgrade keeps its
    history without a command. A file that fails is left for `mentor db import`, with a warning."""
    try:
        if waiting := pending_files(database, paths):
            log.info("state database: %s", import_files(database, tuple(waiting)).summary())
    except StateImportError as exc:
        log.warning("could not import the old state files (%s); run `mentor db import` to try again", exc)
