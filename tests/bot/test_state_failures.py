"""The state database failing: never silent, never an answer lost. Startup names the setting; a server
that goes down under a running service costs votes only, health says so, and it reconnects alone."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from bot.app import MentorApp
from bot.cli import app
from bot.config.sections import AnswerSettings
from bot.config.settings import Settings
from bot.ops.health import StateWatch
from bot.service.commands import ChatCommands
from models import Course, Question
from tests.bot.test_state_stores import legacy_data_dir
from tests.conftest import EXAMPLE_COURSE, free_port, start_postgres
from tests.postgres_server import PostgresServer

COVERED = "what does break do in a loop?"


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A server of this test's own, to stop and start again (the shared one serves the other tests)."""
    server = start_postgres()
    yield server
    server.remove()


def test_a_server_that_goes_down_costs_votes_not_answers_and_is_reconnected(own_server: PostgresServer, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=SecretStr(own_server.new_database()),
        courses=[Course(name="cs101", sources=(EXAMPLE_COURSE,))],
        answer=AnswerSettings(mode="quote"),
    )
    mentor = MentorApp(settings)
    mentor.ingest("cs101")
    commands = ChatCommands(mentor)
    announced: list[str] = []

    async def scenario() -> None:
        watch = StateWatch(mentor, announced.append)
        await watch.start()
        try:
            before = await commands.ask(Question(text=COVERED, platform="web"))
            assert before.question_id is not None and watch.state.ok

            await asyncio.to_thread(own_server.stop)
            during = await commands.ask(Question(text=COVERED, platform="web"))
            assert during.kind == before.kind and during.citations, "the answer still goes out"
            assert during.question_id is None, "without a log entry, so without votes"
            assert not await commands.feedback(before.question_id, "web", "browser-1", 1), "a vote is lost, not a crash"
            await commands.link_answer(before, "slack", ["C1:1.2"])
            await watch._check()
            assert not watch.state.ok and "127.0.0.1" in (watch.state.problem or "")

            await asyncio.to_thread(own_server.restart)
            after = await commands.ask(Question(text=COVERED, platform="web"))
            assert after.question_id is not None, "the pool reconnected by itself"
            assert await commands.feedback(after.question_id, "web", "browser-1", 1)
            await watch._check()
            assert watch.state.ok
        finally:
            await watch.stop()

    try:
        asyncio.run(scenario())
    finally:
        mentor.close()
    assert any(line.startswith("state database unreachable (answers go on") for line in announced), announced
    assert any(line.startswith("state database reachable again") for line in announced), announced


def test_an_unreachable_database_stops_a_command_with_the_setting_named(tmp_path: Path) -> None:
    env = {"MENTOR_DATA_DIR": str(tmp_path), "MENTOR_DATABASE_URL": f"postgresql://mentor:hunter2@127.0.0.1:{free_port()}/mentor"}
    result = CliRunner().invoke(app, ["history"], env=env)
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert "Cannot use the database at postgresql+psycopg://mentor:***@127.0.0.1" in message
    assert "MENTOR_DATABASE_URL" in message and "hunter2" not in result.output


def test_an_old_data_dir_is_adopted_at_first_start_and_imported_into_postgres_by_command(tmp_path: Path, postgres_url: str) -> None:
    old = legacy_data_dir(tmp_path / "old")
    runner = CliRunner()
    adopted = runner.invoke(app, ["history", "--json"], env={"MENTOR_DATA_DIR": str(old)}, catch_exceptions=False)
    assert adopted.exit_code == 0 and '"requested_by": "ada"' in adopted.stdout, "the default SQLite took the old files in"
    with sqlite3.connect(old / "state.sqlite") as db:
        assert db.execute("SELECT text FROM questions").fetchall() == [("What does break do?",)]

    env = {"MENTOR_DATA_DIR": str(tmp_path / "new"), "MENTOR_DATABASE_URL": postgres_url}
    imported = runner.invoke(app, ["db", "import", "--from", str(old)], env=env, catch_exceptions=False)
    assert imported.exit_code == 0 and "1 questions" in imported.stdout and "1 feedback" in imported.stdout, imported.output
    again = runner.invoke(app, ["db", "import", "--from", str(old)], env=env, catch_exceptions=False)
    assert again.exit_code == 2 and "imported already" in again.stderr
    status = runner.invoke(app, ["db", "status"], env=env, catch_exceptions=False)
    shown = " ".join(status.stdout.split())
    assert "(shared by replicas)" in shown and "1 reindex runs, 1 questions" in shown
    missing = runner.invoke(app, ["db", "import", "--from", str(tmp_path / "nowhere")], env=env)
    assert missing.exit_code == 2 and "exists" in missing.output
