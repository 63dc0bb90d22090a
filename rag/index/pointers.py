"""Which generation each course searches, kept beside a Milvus Lite 2.x database.

Milvus Lite 2.x (the C++ build of Milvus, with its much faster BM25 and vector search)
answers every alias call with gRPC UNIMPLEMENTED. There the project keeps the live
generation's name itself, in `<db>.live.json`, replaced in one rename: a search reads the
old name or the new one, never a half-written file, just as it would through an alias.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path


class LivePointers:
    def __init__(self, db_path: Path) -> None:
        db_path = db_path.resolve()
        self.path = db_path.with_name(db_path.name + ".live.json")

    def get(self, alias: str) -> str | None:
        return self._read().get(alias)

    def set(self, alias: str, generation: str | None) -> None:
        """Point `alias` at `generation` (None removes it) in one rename.

        Two processes publishing two courses at once take turns, so neither loses the other's pointer.
        """
        with open(self.path.with_name(self.path.name + ".lock"), "a") as turn:
            fcntl.flock(turn, fcntl.LOCK_EX)
            pointers = self._read()
            if generation is None:
                pointers.pop(alias, None)
            else:
                pointers[alias] = generation
            partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            partial.write_text(json.dumps(pointers, indent=2, sort_keys=True) + "\n")
            os.replace(partial, self.path)

    def _read(self) -> dict[str, str]:
        try:
            return dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return {}
