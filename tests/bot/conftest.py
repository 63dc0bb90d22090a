"""Fixtures shared by the state stores' contract tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store.database import Database


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The state database, migrated: one SQLite file, then a real PostgreSQL (each test runs on both)."""
    url = f"sqlite:///{tmp_path / 'state.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    opened = Database.open(url)
    yield opened
    opened.close()
