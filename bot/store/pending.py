"""Questions taken but not yet answered, kept on disk so a killed service answers them after a restart.

A platform acknowledges an event at once, so after a crash it never sends that event again:
whatever was taken and not answered would be lost. Each question is written here when it is
taken and removed once its reply went out (an answer, or a notice such as "restarting"); what
is left at the next start was cut off by a crash, and the platform answers it then, in the
thread it was asked in. The payload is the platform's own; this store only keeps it.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    key TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    payload TEXT NOT NULL,
    taken_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT NOT NULL
);
"""
MAX_ATTEMPTS = 3
"""A question whose answering crashed the service this often is dropped (logged), not tried forever."""
MAX_AGE_S = 24 * 3600.0
"""Older than this, a question left by a crash is dropped: an answer a day late helps nobody."""


@dataclass(frozen=True)
class Unanswered:
    key: str
    payload: dict[str, Any]


class PendingQuestions:
    """Used on the event loop only: one small row per question, in WAL mode without a sync per
    write (a power cut may lose the last few; a killed process loses none).

    A file of the host's own, not the shared database: it is this process's journal of what
    it took, answered after this host restarts, and a write per question must cost no round trip.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.owner = secrets.token_hex(8)
        """This store's own mark on the questions it is answering (another one may share the file)."""
        self._db: sqlite3.Connection | None = None

    def take(self, key: str, platform: str, payload: dict[str, Any]) -> bool:
        """Keep a question until `done`; False when this store is answering it already (a redelivery)."""
        db = self._connection()
        cursor = db.execute(
            "INSERT OR IGNORE INTO pending (key, platform, payload, taken_at, owner) VALUES (?, ?, ?, ?, ?)",
            (key, platform, json.dumps(payload), time.time(), self.owner),
        )
        if cursor.rowcount == 1:
            return True
        row = db.execute("SELECT owner FROM pending WHERE key = ?", (key,)).fetchone()
        return row is None or row[0] != self.owner

    def note(self, key: str, **fields: Any) -> None:
        """Add to a question's payload (its placeholder's id, say), for its answer after a restart."""
        db = self._connection()
        row = db.execute("SELECT payload FROM pending WHERE key = ?", (key,)).fetchone()
        if row is not None:
            db.execute("UPDATE pending SET payload = ? WHERE key = ?", (json.dumps(json.loads(row[0]) | fields), key))

    def done(self, key: str) -> None:
        self._connection().execute("DELETE FROM pending WHERE key = ?", (key,))

    def left_over(self, platform: str) -> list[Unanswered]:
        """The questions a crash cut off, oldest first; each call counts an attempt, and those too old
        or tried too often are dropped with a log line."""
        db = self._connection()
        rows = db.execute(
            "SELECT key, payload, taken_at, attempts FROM pending WHERE platform = ? ORDER BY taken_at", (platform,)
        ).fetchall()
        kept: list[Unanswered] = []
        for key, payload, taken_at, attempts in rows:
            age = time.time() - taken_at
            if attempts >= MAX_ATTEMPTS or age > MAX_AGE_S:
                log.warning("%s: dropping question %s left unanswered by a crash (%d attempts, taken %.0f s ago)", platform, key, attempts, age)
                db.execute("DELETE FROM pending WHERE key = ?", (key,))
                continue
            db.execute("UPDATE pending SET attempts = attempts + 1, owner = ? WHERE key = ?", (self.owner, key))
            kept.append(Unanswered(key, json.loads(payload)))
        return kept

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30)
            db.executescript(SCHEMA)
            db.isolation_level = None  # autocommit: each write stands alone
            with closing(db.execute("PRAGMA journal_mode=WAL")):
                pass
            db.execute("PRAGMA synchronous=NORMAL")
            self._db = db
        return self._db
