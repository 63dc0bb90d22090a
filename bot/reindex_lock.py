"""The per-course reindex lock: an OS lock file, released even when its process is killed."""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from bot.errors import ReindexBusyError


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
        self.path = folder / f"reindex-{course}.lock"
        self._handle: IO[str] | None = None

    def acquire(self, trigger: str, requested_by: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            running = self._read(handle)
            handle.close()
            raise ReindexBusyError(running.describe(), running) from None
        handle.seek(0)
        handle.truncate()
        json.dump(
            {"trigger": trigger, "requested_by": requested_by, "started_at": datetime.now(timezone.utc).isoformat(), "pid": os.getpid()},
            handle,
        )
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _read(self, handle: IO[str]) -> RunningReindex:
        handle.seek(0)
        try:
            data = json.loads(handle.read() or "{}")
            started = datetime.fromisoformat(data["started_at"])
        except (ValueError, KeyError, TypeError):
            data, started = {}, datetime.now(timezone.utc)
        return RunningReindex(
            self.course, data.get("trigger", "?"), data.get("requested_by", "someone"), started, int(data.get("pid", 0))
        )


def running_reindex(folder: Path, course: str) -> RunningReindex | None:
    """The run going on now for a course, in any process, if there is one."""
    probe = CourseReindexLock(folder, course)
    try:
        probe.acquire("probe", "probe")
    except ReindexBusyError as busy:
        return busy.running  # type: ignore[return-value]
    probe.release()
    return None
