"""The one database that holds the state replicas share: SQLite in the data dir, or PostgreSQL.

Chosen by `database_url` (`MENTOR_DATABASE_URL`). Opening it migrates the schema to this
code's version with Alembic, so a fresh database is created and an older one upgraded in
place; a database migrated by a newer release is refused with a message, never written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot.errors import ConfigError, DatabaseUnavailableError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
SETTING = "database_url (MENTOR_DATABASE_URL)"
CONNECT_TIMEOUT_S = 5
"""A PostgreSQL server that does not answer in this long is reported as unreachable."""
SQLITE_BUSY_TIMEOUT_S = 30
"""How long a SQLite write waits out another process's (`mentor ingest` beside `mentor serve`)."""


class Database:
    """An engine for the shared state, checked and migrated on `open`; stores take it, not a URL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def shown_url(self) -> str:
        """The URL without its password, for logs, errors and `mentor status`."""
        return self.engine.url.render_as_string(hide_password=True)

    @classmethod
    def open(cls, url: str) -> Database:
        """Connect and migrate; raises `DatabaseUnavailableError` or `ConfigError` naming the setting."""
        database = cls(_engine(_parse(url)))
        try:
            database.migrate()
        except SQLAlchemyError as exc:
            database.close()
            raise DatabaseUnavailableError(
                f"Cannot use the database at {database.shown_url} ({SETTING}): {_reason(exc)}. "
                "Check that the server runs and the URL, user and password are right."
            ) from exc
        except BaseException:
            database.close()
            raise
        return database

    def migrate(self) -> None:
        """Bring the schema to this code's head revision (a no-op when it is there already)."""
        scripts = ScriptDirectory(str(MIGRATIONS))
        with self.engine.begin() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            if current is not None and current not in {revision.revision for revision in scripts.walk_revisions()}:
                raise ConfigError(
                    f"The database at {self.shown_url} ({SETTING}) is at schema version {current}, which this release "
                    f"of AI Mentor does not know (it knows up to {scripts.get_current_head()}): a newer release migrated it. "
                    "Run the newer release here too, or point the setting at another database."
                )
            if current == scripts.get_current_head():
                return
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            # An upgrade is news to the operator; creating a fresh database is not.
            log.log(logging.INFO if current else logging.DEBUG, "database %s migrated from %s to %s", self.shown_url, current or "empty", scripts.get_current_head())

    def check(self) -> None:
        """One round trip; raises SQLAlchemyError when the database cannot be reached (health)."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()


def upsert(connection: Connection, table: Table, values: dict[str, Any], keys: Sequence[str], *, replace: bool = True) -> bool:
    """Insert a row, or (`replace`) update the one with the same `keys`, else leave it: one statement,
    safe between replicas. True when a row was written."""
    insert = (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(table).values(values)
    changed = {name: insert.excluded[name] for name in values if name not in keys}
    statement = (
        insert.on_conflict_do_update(index_elements=list(keys), set_=changed)
        if replace and changed
        else insert.on_conflict_do_nothing(index_elements=list(keys))
    )
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT.
    return connection.execute(statement.returning(*table.primary_key.columns)).first() is not None


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"{SETTING} is not a database URL: {exc}. Example: postgresql://mentor:secret@db:5432/mentor") from exc
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(f"{SETTING} names {parsed.get_backend_name()!r}; AI Mentor keeps its state in SQLite or PostgreSQL.")
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in {"psycopg2", "pg8000", "asyncpg"}:
        raise ConfigError(f"{SETTING} asks for the {parsed.get_driver_name()} driver; use postgresql:// (psycopg 3).")
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def _engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # Pooled: closing a WAL database's last connection checkpoints it (~10 ms a write when
        # each use opened its own). Other processes on the host (`mentor ingest` beside `mentor
        # serve`) share the file safely through SQLite's own locks.
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pre-ping: a server restarted under a long-running service is reconnected on next use.
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_timeout=10, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
    )


def _sqlite_pragmas(connection: object, _record: object) -> None:
    """Foreign keys enforced, as PostgreSQL does. WAL without a sync per commit: a write costs about
    a millisecond instead of an fsync (`bench.state_store`); a power cut may lose the last few
    writes, a killed process none, and readers never wait for a writer."""
    cursor = connection.cursor()  # type: ignore[attr-defined]
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's own first line (e.g. 'connection refused'), without SQLAlchemy's background link."""
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
