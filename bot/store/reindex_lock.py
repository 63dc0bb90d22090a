"""The per-course reindex lock: released even when its holder is killed, and naming who holds it.

On SQLite it is an OS lock file in the data dir (one host). On PostgreSQL it is a session
advisory lock, which holds across every replica sharing the database; the server drops it
when the holder's connection ends, so a crashed replica never leaves a stale one.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Connection, delete, select, text

from bot.errors import ReindexBusyError
from bot.store.database import Database, upsert
from bot.store.tables import reindex_holders
from rag.owned_lock import OwnedLock


@dataclass(frozen=True)
class RunningReindex:
    course: str
    trigger: str
    requested_by: str
    started_at: datetime
    pid: int
    host: str = ""

    def describe(self) -> str:
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return (
            f"A reindex of {self.course} is already running{where} since {self.started_at:%H:%M} UTC, "
            f"started by {self.requested_by} ({self.trigger}): its report follows when it is done."
        )

    @classmethod
    def from_note(cls, course: str, note: str | None) -> RunningReindex:
        """What `holder_note` wrote; a damaged note still yields a usable (vaguer) description."""
        try:
            data = json.loads(note or "{}")
            started = datetime.fromisoformat(data["started_at"])
        except (ValueError, KeyError, TypeError):
            data, started = {}, datetime.now(timezone.utc)
        return cls(
            course, data.get("trigger", "?"), data.get("requested_by", "someone"), started, int(data.get("pid", 0)), data.get("host", "")
        )


def holder_note(trigger: str, requested_by: str) -> str:
    return json.dumps(
        {
            "trigger": trigger,
            "requested_by": requested_by,
            "started_at": datetime.now(timezone.utc).isoformat(),
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
    )


class CourseReindexLock:
    """An exclusive lock file per course, with who holds it written inside."""

    def __init__(self, folder: Path, course: str) -> None:
        self.course = course
        self._lock = OwnedLock(folder / f"reindex-{course}.lock")

    def acquire(self, trigger: str, requested_by: str) -> None:
        holder = self._lock.acquire(holder_note(trigger, requested_by))
        if holder is not None:
            running = RunningReindex.from_note(self.course, holder)
            raise ReindexBusyError(running.describe(), running)

    def release(self) -> None:
        self._lock.release()

    def running(self) -> RunningReindex | None:
        """The run going on now in any process, without taking the lock (`OwnedLock.holder`): a
        probe that took it, even for a moment, would refuse a reindex asked for at that moment."""
        holder = self._lock.holder()
        return None if holder is None else RunningReindex.from_note(self.course, holder)


class AdvisoryReindexLock:
    """A PostgreSQL session advisory lock per course, held on a connection of its own for the run."""

    def __init__(self, database: Database, course: str) -> None:
        self.course = course
        self.database = database
        self.key = advisory_key(f"mentor reindex {course}")
        self._connection: Connection | None = None

    def acquire(self, trigger: str, requested_by: str) -> None:
        # Autocommit: the lock belongs to the session, and the note must be visible to other
        # replicas at once, not when a transaction around the whole run commits.
        connection = self.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            if not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar():
                note = connection.execute(select(reindex_holders.c.note).where(reindex_holders.c.course == self.course)).scalar()
                running = RunningReindex.from_note(self.course, note)
                raise ReindexBusyError(running.describe(), running)
            upsert(connection, reindex_holders, {"course": self.course, "note": holder_note(trigger, requested_by)}, ("course",))
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.execute(delete(reindex_holders).where(reindex_holders.c.course == self.course))
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        finally:
            # Closing returns the connection to the pool; a dead one is discarded and its lock
            # went with its session.
            connection.close()

    def running(self) -> RunningReindex | None:
        """Asks `pg_locks` rather than trying the lock, for the same reason as the file lock."""
        classid, objid = divmod(self.key % 2**64, 2**32)
        with self.database.engine.connect() as connection:
            held = connection.execute(
                text(
                    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = :classid AND objid = :objid"
                    " AND objsubid = 1 AND granted"
                ),
                {"classid": classid, "objid": objid},
            ).first()
            if held is None:
                return None
            note = connection.execute(select(reindex_holders.c.note).where(reindex_holders.c.course == self.course)).scalar()
        return RunningReindex.from_note(self.course, note)


class ReindexLocks:
    """The kind of lock the state database allows: across hosts on PostgreSQL, else on this host."""

    def __init__(self, database: Database, folder: Path) -> None:
        self.database = database
        self.folder = folder

    def for_course(self, course: str) -> CourseReindexLock | AdvisoryReindexLock:
        if self.database.is_postgres:
            return AdvisoryReindexLock(self.database, course)
        return CourseReindexLock(self.folder, course)

    def running(self, course: str) -> RunningReindex | None:
        """The run going on now for a course, anywhere this lock reaches, if there is one."""
        return self.for_course(course).running()


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for `pg_advisory_lock`, the same on every replica and release."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
