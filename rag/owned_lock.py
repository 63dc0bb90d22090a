"""An exclusive OS lock on a file that also says who holds it.

The kernel drops the lock when its holder exits, however it exits, so a crash never
leaves a stale lock; the note inside lets whoever is refused say who is in the way.
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO


class OwnedLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self, note: str) -> str | None:
        """Take the lock and leave `note` in the file; when someone else holds it, return their note."""
        if self._handle is not None:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            return holder
        handle.seek(0)
        handle.truncate()
        handle.write(note)
        handle.flush()
        self._handle = handle
        return None

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
