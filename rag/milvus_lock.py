"""One process per Milvus Lite database, with a message that names the holder.

Milvus Lite takes its own exclusive lock, but only tells a second process that
"another process holds the lock". Taking ours first lets the refusal say which
process it is and what to do instead.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path
from typing import IO

from rag.errors import IndexLockedError


class MilvusLiteLock:
    """An advisory lock beside a Milvus Lite database, held for the life of the process."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".owner")
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        if self._handle is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise IndexLockedError(
                f"The index database {self.path.with_suffix('')} is open in {holder}. Milvus Lite allows one "
                "process per database: stop that process, or run a Milvus server and point "
                "MENTOR_MILVUS_URI at it."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} ({' '.join(Path(sys.argv[0]).name.split() + sys.argv[1:])[:200]})")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
