"""`mentor db …`: the state database (run history, question log, ingest catalog) and moving into it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from sqlalchemy import func, select

from bot.console import open_mentor, out
from bot.store.legacy_import import import_files
from bot.store.tables import questions, runs

db_app = typer.Typer(help="The state database: where it is, and importing an older data dir into it.", no_args_is_help=True)


@db_app.command("status")
def db_status(ctx: typer.Context) -> None:
    """Which database holds the state (migrated to this release's schema on open), and what it holds."""
    with open_mentor(ctx) as mentor:
        database = mentor.database
        with database.engine.connect() as db:
            counts = {table.name: db.execute(select(func.count()).select_from(table)).scalar() for table in (runs, questions)}
        out.print(f"state database: {escape(database.shown_url)} ({'shared by replicas' if database.is_postgres else 'this host only'})")
        out.print(f"  {counts['runs']} reindex runs, {counts['questions']} questions")


@db_app.command("import")
def db_import(
    ctx: typer.Context,
    data_dir: Annotated[
        Optional[Path], typer.Option("--from", help="An older data dir holding history.sqlite and catalog.sqlite (default: this data dir).")
    ] = None,
) -> None:
    """Copy an older release's SQLite files (history.sqlite, catalog.sqlite) into the configured database, once."""
    with open_mentor(ctx) as mentor:
        files = mentor.settings.legacy_state_files
        if data_dir is not None:
            files = tuple(data_dir / path.name for path in files)
        if not any(path.is_file() for path in files):
            raise typer.BadParameter(f"neither {files[0]} nor {files[1]} exists", param_hint="--from")
        report = import_files(mentor.database, files)
        out.print(f"{escape(report.summary())} into {escape(mentor.database.shown_url)}")
