"""The per-course reindex lock: an OS lock file, released even when its process is killed."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bot.errors import ReindexBusyError
from rag.owned_lock import OwnedLock


@dataclass(frozen=True)
class RunningReindex:
    course: str
    trigger: str
    requested_by: str
    started_at: datetime
    pid: int

    def describe(self) -> str:
        return (
            f"A reindex of {self.course} is already running since {self.started_at:%H:%M} UTC, "
            f"started by {self.requested_by} ({self.trigger}): its report follows when it is done."
        )


class CourseReindexLock:
    """An exclusive lock file per course, with who holds it written inside."""

    def __init__(self, folder: Path, course: str) -> None:
        self.course = course
        self._lock = OwnedLock(folder / f"reindex-{course}.lock")

    def acquire(self, trigger: str, requested_by: str) -> None:
        note = {"trigger": trigger, "requested_by": requested_by, "started_at": datetime.now(timezone.utc).isoformat(), "pid": os.getpid()}
        holder = self._lock.acquire(json.dumps(note))
        if holder is not None:
            running = self.running(holder)
            raise ReindexBusyError(running.describe(), running)

    def release(self) -> None:
        self._lock.release()

    def holder(self) -> str | None:
        """The running run's note, without taking the lock; None when none runs."""
        return self._lock.holder()

    def running(self, holder: str) -> RunningReindex:
        try:
            data = json.loads(holder or "{}")
            started = datetime.fromisoformat(data["started_at"])
        except (ValueError, KeyError, TypeError):
            data, started = {}, datetime.now(timezone.utc)
        return RunningReindex(
            self.course, data.get("trigger", "?"), data.get("requested_by", "someone"), started, int(data.get("pid", 0))
        )


def running_reindex(folder: Path, course: str) -> RunningReindex | None:
    """The run going on now for a course, in any process, if there is one.

    It only looks (`OwnedLock.holder`): a probe that took the lock, even for a moment,
    would refuse a reindex asked for at that moment.
    """
    lock = CourseReindexLock(folder, course)
    holder = lock.holder()
    return None if holder is None else lock.running(holder)
