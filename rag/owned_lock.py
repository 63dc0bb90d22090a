"""An exclusive OS lock on a file that also says who holds it.

The kernel drops the lock when its holder exits, however it exits, so a crash never
leaves a stale lock; the note inside lets whoever is refused say who is in the way.

The lock is an open-file-description lock (Linux `F_OFD_SETLK`), not `flock`: like
`flock` it belongs to one open file, so two threads of one process exclude each other,
and unlike `flock` it can be *asked about* (`F_OFD_GETLK`) without being taken. So
`holder()` (what `status` calls) never takes the lock, and a run asked for at that
moment is never refused by someone merely looking.
"""

from __future__ import annotations

import fcntl
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

_FLOCK = "hhqqi4x"
"""Linux's `struct flock`: type, whence, start, len (0: to the end of the file), pid, padding."""


def _request(fd: int, command: int, lock_type: int) -> int:
    """One `struct flock` request on the whole file; returns the type the kernel answers with."""
    answer = fcntl.fcntl(fd, command, struct.pack(_FLOCK, lock_type, os.SEEK_SET, 0, 0, 0))
    return struct.unpack(_FLOCK, answer)[0]


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
            _request(handle.fileno(), fcntl.F_OFD_SETLK, fcntl.F_WRLCK)
        except (BlockingIOError, PermissionError):
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

    def holder(self) -> str | None:
        """The holder's note while someone (this process included) holds the lock, else None; takes nothing."""
        try:
            handle = self.path.open("r")
        except FileNotFoundError:
            return None
        with handle:
            if _request(handle.fileno(), fcntl.F_OFD_GETLK, fcntl.F_WRLCK) == fcntl.F_UNLCK:
                return None
            return handle.read().strip()

    @contextmanager
    def unless_held(self) -> Iterator[bool]:
        """Yield True holding the lock shared (no one can take it meanwhile) when no one holds it; else yield False.

        For work that must not race a new holder, such as clearing what a dead one left behind.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+") as handle:
            try:
                _request(handle.fileno(), fcntl.F_OFD_SETLK, fcntl.F_RDLCK)
            except (BlockingIOError, PermissionError):
                yield False
                return
            yield True

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
