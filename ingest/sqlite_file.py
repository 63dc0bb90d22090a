"""The small SQLite files in the data dir (manifest, run history), opened one way."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_database(path: Path, schema: str) -> sqlite3.Connection:
    """Open (creating the folder and tables if needed); waits out another process's write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30)
    connection.executescript(schema)
    return connection
