"""The change manifest: what each index generation holds, file by file, in the state database.

A generation is one collection of a course's index (see `rag.index.generation_name`).
An entry moves forward only after the index write for that file succeeded, so a
crash or a failed file never makes the manifest claim more than the index has, and
an interrupted rebuild resumes where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Column, Connection, Engine, Float, Integer, MetaData, Table, Text, delete, func, insert, literal, select, union_all

from models import IngestReport

metadata = MetaData()
"""The catalog's tables in the state database; the bot's migrations create them."""

generation_files = Table(
    "generation_files",
    metadata,
    Column("generation", Text, primary_key=True),
    Column("source", Text, primary_key=True),
    Column("sha256", Text, nullable=False),
    Column("chunks", Integer, nullable=False),
    Column("ingested_at", Float, nullable=False),
)
generation_assets = Table(
    "generation_assets",
    metadata,
    Column("generation", Text, primary_key=True),
    Column("source", Text, primary_key=True),
    Column("asset", Text, primary_key=True),
)
courses = Table(
    "courses",
    metadata,
    Column("course", Text, primary_key=True),
    Column("fingerprint", Text),
    Column("sources", Text),
    Column("last_report", Text),
    Column("last_ingest_at", Float),
)

# What the manifest keeps per generation and file.
FILE_TABLES = (generation_files, generation_assets)


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
    """Per-course file hashes, the index fingerprint, remembered sources and the last report.

    Writes for one course come from its single-flight reindex only, so a replace is a delete
    and an insert in one transaction, with no upsert to race.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def files(self, generation: str) -> dict[str, FileRecord]:
        query = select(generation_files.c.source, generation_files.c.sha256, generation_files.c.chunks).where(
            generation_files.c.generation == generation
        )
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return {source: FileRecord(sha256, chunks) for source, sha256, chunks in rows}

    def record_file(self, generation: str, source: str, sha256: str, chunks: int, assets: Sequence[str] = ()) -> None:
        """`assets`: the course files the document embeds (an HTML page's images), served with it."""
        with self.engine.begin() as db:
            _forget(db, generation, source)
            db.execute(
                insert(generation_files).values(generation=generation, source=source, sha256=sha256, chunks=chunks, ingested_at=time.time())
            )
            if assets:
                db.execute(insert(generation_assets), [{"generation": generation, "source": source, "asset": asset} for asset in dict.fromkeys(assets)])

    def copy_file(self, from_generation: str, to_generation: str, source: str) -> None:
        """Give `to_generation` the entry `from_generation` has for one file, hash and assets alike."""
        with self.engine.begin() as db:
            _forget(db, to_generation, source)
            for table in FILE_TABLES:
                columns = [column for column in table.c if column.name != "generation"]
                copied = select(literal(to_generation), *columns).where(table.c.generation == from_generation, table.c.source == source)
                db.execute(insert(table).from_select(["generation", *(column.name for column in columns)], copied))

    def publishes(self, generation: str, name: str) -> bool:
        """Whether `name` is a file the generation indexed, or one that an indexed page embeds."""
        query = union_all(
            select(literal(1)).where(generation_files.c.generation == generation, generation_files.c.source == name),
            select(literal(1)).where(generation_assets.c.generation == generation, generation_assets.c.asset == name),
        ).limit(1)
        with self.engine.connect() as db:
            return db.execute(query).first() is not None

    def forget_file(self, generation: str, source: str) -> None:
        with self.engine.begin() as db:
            _forget(db, generation, source)

    def keep_only(self, generation: str, prefix: str) -> None:
        """Forget every other generation named with `prefix`: the index dropped them."""
        with self.engine.begin() as db:
            for table in FILE_TABLES:
                db.execute(
                    delete(table).where(
                        func.substr(table.c.generation, 1, len(prefix)) == prefix, table.c.generation != generation
                    )
                )

    def course(self, course: str) -> CourseRecord:
        with self.engine.connect() as db:
            row = db.execute(select(courses).where(courses.c.course == course)).first()
        if row is None:
            return CourseRecord(None, [], None, None)
        return CourseRecord(
            row.fingerprint,
            json.loads(row.sources or "[]"),
            IngestReport.model_validate_json(row.last_report) if row.last_report else None,
            row.last_ingest_at,
        )

    def record_run(self, report: IngestReport, sources: list[str], fingerprint: str) -> None:
        with self.engine.begin() as db:
            db.execute(delete(courses).where(courses.c.course == report.course))
            db.execute(
                insert(courses).values(
                    course=report.course,
                    fingerprint=fingerprint,
                    sources=json.dumps(sources),
                    last_report=report.model_dump_json(),
                    last_ingest_at=time.time(),
                )
            )


def _forget(db: Connection, generation: str, source: str) -> None:
    for table in FILE_TABLES:
        db.execute(delete(table).where(table.c.generation == generation, table.c.source == source))
