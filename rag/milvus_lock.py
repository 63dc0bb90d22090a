"""One process per Milvus Lite database, with a message that names the holder.

Milvus Lite takes its own exclusive lock, but only tells a second process that
"another process holds the lock". Taking ours first lets the refusal say which
process it is and what to do instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rag.errors import IndexLockedError
from rag.owned_lock import OwnedLock


class MilvusLiteLock:
    """An advisory lock beside a Milvus Lite database, held for the life of the process."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".owner")
        self._lock = OwnedLock(self.path)

    def acquire(self) -> None:
        holder = self._lock.acquire(f"process {os.getpid()} ({' '.join(Path(sys.argv[0]).name.split() + sys.argv[1:])[:200]})")
        if holder is not None:
            raise IndexLockedError(
                f"The index database {self.path.with_suffix('')} is open in {holder or 'another process'}. Milvus Lite "
                "allows one process per database: stop that process, or run `mentor serve` (other commands then go "
                "through it), or run a Milvus server and point MENTOR_MILVUS_URI at it."
            )

    def release(self) -> None:
        self._lock.release()
