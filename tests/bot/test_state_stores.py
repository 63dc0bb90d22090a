"""One contract for the state database, run against SQLite and a real PostgreSQL: the run history,
the question log, the ingest catalog, the reindex lock, schedule claims, migrations and imports."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, text

from bot.errors import ConfigError, DatabaseUnavailableError, ReindexBusyError, StateImportError
from bot.store.database import Database
from bot.store.history import RunHistory
from bot.store.legacy_import import import_files
from bot.store.question_log import QuestionLog
from bot.store.reindex_lock import ReindexLocks
from bot.store.schedule_claims import ScheduleClaims
from bot.store.tables import metadata as bot_tables
from ingest.manifest import Manifest
from ingest.manifest import metadata as catalog_tables
from models import Answer, Citation, IngestReport, Question
from tests.conftest import free_port


def answer(kind: str = "answer", *cited: str) -> Answer:
    citations = [Citation(n=n, title=title, source=f"{title}.md", url=f"https://example.edu/{title}.html") for n, title in enumerate(cited, 1)]
    return Answer(text="…", citations=citations, grounded=kind == "answer", kind=kind)  # type: ignore[arg-type]


def test_the_migrated_schema_is_what_the_code_queries(database: Database) -> None:
    combined = MetaData()
    for table in (*bot_tables.tables.values(), *catalog_tables.tables.values()):
        table.to_metadata(combined)
    with database.engine.connect() as db:
        assert compare_metadata(MigrationContext.configure(db), combined) == []


def test_opening_again_migrates_nothing_and_keeps_the_rows(database: Database) -> None:
    RunHistory(database).start("cs101", "cli", "ada")
    again = Database.open(database.engine.url.render_as_string(hide_password=False))
    try:
        assert [run.requested_by for run in RunHistory(again).runs("cs101")] == ["ada"]
    finally:
        again.close()


def test_a_schema_from_a_newer_release_is_refused_with_what_to_do(database: Database) -> None:
    with database.engine.begin() as db:
        db.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(ConfigError, match=r"MENTOR_DATABASE_URL.*schema version 0099, which this release of AI Mentor does not know"):
        Database.open(database.engine.url.render_as_string(hide_password=False))


def test_runs_are_recorded_newest_first_and_a_killed_one_is_marked_interrupted(database: Database) -> None:
    history = RunHistory(database)
    killed = history.start("cs101", "schedule", "schedule")
    second = history.start("cs101", "slash command", "grace")
    history.finish(second, "ok", IngestReport(course="cs101", added=["loops.md"]))
    other = history.start("cs202", "cli", "ada")
    assert [run.id for run in history.runs("cs101")] == [second, killed]
    assert history.get(killed).outcome == "interrupted"
    finished = history.get(second)
    assert finished.outcome == "ok" and finished.report is not None and finished.report.added == ["loops.md"]
    assert finished.seconds is not None and finished.seconds >= 0
    assert history.last("cs202").id == other and history.last("nope") is None
    assert len(history.runs()) == 3


def test_votes_are_kept_with_the_question_course_platform_and_citations(database: Database) -> None:
    log = QuestionLog(database)
    asked = log.record(Question(text="What does break do?", platform="slack", asker="U1"), "cs101", answer("answer", "loops"))
    log.link_messages(asked, "slack", ["C1:111.222"])
    log.link_messages(asked, "slack", ["C1:111.222"])  # a re-post links the same message again

    assert log.question_for_message("slack", "C1:111.222") == asked
    assert log.question_for_message("discord", "C1:111.222") is None
    assert log.set_feedback(asked, "slack", "U2", 1)
    assert log.set_feedback(asked, "slack", "U3", -1)
    assert log.set_feedback(asked, "slack", "U2", -1), "a changed mind replaces the vote"
    assert not log.set_feedback(asked + 100, "slack", "U2", 1), "an unknown answer takes no vote"

    votes = log.feedback()
    assert sorted((v.user, v.vote) for v in votes) == [("U2", -1), ("U3", -1)]
    entry = votes[0].to_json()
    assert entry["course"] == "cs101" and entry["platform"] == "slack" and entry["question"] == "What does break do?"
    assert entry["citations"] == [{"label": "loops", "url": "https://example.edu/loops.html"}]
    assert log.get(asked).grounded is True and log.get(asked).asker == "U1"

    log.withdraw_feedback(asked, "slack", "U3", 1)
    assert len(log.feedback()) == 2, "withdrawing a vote the person did not give changes nothing"
    log.withdraw_feedback(asked, "slack", "U3", -1)
    assert [v.user for v in log.feedback()] == ["U2"]
    assert log.feedback(course="other") == []


def test_gaps_count_the_same_question_together_newest_first(database: Database) -> None:
    log = QuestionLog(database)
    log.record(Question(text="When is the midterm?"), "cs101", answer("not_covered"))
    log.record(Question(text="Is there a Java track?"), "cs101", answer("not_covered"))
    log.record(Question(text="  when is the MIDTERM?  "), "cs101", answer("not_covered"))
    log.record(Question(text="What does break do?"), "cs101", answer("answer", "loops"))
    log.record(Question(text="When is the midterm?"), "cs202", answer("not_covered"))

    gaps = log.gaps(course="cs101")
    assert [(g.count, g.text.strip().lower()) for g in gaps] == [(2, "when is the midterm?"), (1, "is there a java track?")]
    assert {g.course for g in log.gaps()} == {"cs101", "cs202"}
    assert [q.text for q in log.recent("cs101", limit=2)] == ["What does break do?", "  when is the MIDTERM?  "]


def test_the_catalog_tracks_files_assets_and_generations(database: Database) -> None:
    catalog = Manifest(database.engine)
    catalog.record_file("cs101__g1", "notes.html", "aa", 3, ["img/a.png", "img/a.png"])
    catalog.record_file("cs101__g1", "notes.html", "bb", 4, ["img/b.png"])
    assert catalog.files("cs101__g1") == {"notes.html": catalog.files("cs101__g1")["notes.html"]}
    assert catalog.files("cs101__g1")["notes.html"].sha256 == "bb"
    assert catalog.publishes("cs101__g1", "img/b.png") and not catalog.publishes("cs101__g1", "img/a.png")
    catalog.copy_file("cs101__g1", "cs101__g2", "notes.html")
    assert catalog.files("cs101__g2")["notes.html"].chunks == 4 and catalog.publishes("cs101__g2", "img/b.png")
    catalog.keep_only("cs101__g2", prefix="cs101__")
    assert catalog.files("cs101__g1") == {} and catalog.publishes("cs101__g2", "notes.html")
    catalog.forget_file("cs101__g2", "notes.html")
    assert not catalog.publishes("cs101__g2", "img/b.png")

    catalog.record_run(IngestReport(course="cs101", added=["a.md"]), ["/materials/cs101"], "fp1")
    catalog.record_run(IngestReport(course="cs101", unchanged=["a.md"]), ["/materials/cs101"], "fp2")
    record = catalog.course("cs101")
    assert record.fingerprint == "fp2" and record.sources == ["/materials/cs101"] and record.last_report.unchanged == ["a.md"]
    assert catalog.course("nope").fingerprint is None


def test_a_course_reindexes_once_and_the_refusal_names_who_holds_it(database: Database, tmp_path: Path) -> None:
    locks, other_replica = ReindexLocks(database, tmp_path / "locks"), ReindexLocks(database, tmp_path / "locks")
    holder = locks.for_course("cs101")
    holder.acquire("slash command", "prof. hopper")
    try:
        with pytest.raises(ReindexBusyError, match=r"already running since \d\d:\d\d UTC, started by prof\. hopper"):
            other_replica.for_course("cs101").acquire("cli", "ada")
        running = other_replica.running("cs101")
        assert running is not None and running.requested_by == "prof. hopper" and running.trigger == "slash command"
        assert other_replica.running("cs202") is None
        other_course = other_replica.for_course("cs202")
        other_course.acquire("cli", "ada")
        other_course.release()
    finally:
        holder.release()
    assert locks.running("cs101") is None
    again = other_replica.for_course("cs101")
    again.acquire("cli", "ada")
    again.release()


def test_looking_at_the_lock_never_refuses_a_reindex(database: Database, tmp_path: Path) -> None:
    locks = ReindexLocks(database, tmp_path / "locks")
    stop, refusals = threading.Event(), []

    def look() -> None:
        while not stop.is_set():
            locks.running("cs101")

    looker = threading.Thread(target=look)
    looker.start()
    try:
        for _ in range(200):
            lock = locks.for_course("cs101")
            try:
                lock.acquire("cli", "ada")
            except ReindexBusyError as busy:
                refusals.append(str(busy))
                continue
            lock.release()
    finally:
        stop.set()
        looker.join()
    assert refusals == []


def test_a_scheduled_firing_is_claimed_by_one_replica(database: Database) -> None:
    replica_a, replica_b = ScheduleClaims(database), ScheduleClaims(database)
    replica_b.claimant = "other-host:1"
    slot = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)
    assert replica_a.claim("reindex cs101", slot) is None
    assert replica_b.claim("reindex cs101", slot) == replica_a.claimant
    assert replica_a.claim("reindex cs101", slot) is None, "a retry of its own firing runs"
    assert replica_b.claim("reindex cs202", slot) is None and replica_b.claim("reindex cs101", slot.replace(day=3)) is None


def legacy_data_dir(folder: Path) -> Path:
    """history.sqlite and catalog.sqlite as the release before the state database wrote them."""
    folder.mkdir()
    with sqlite3.connect(folder / "history.sqlite") as db:
        db.executescript(
            """
            CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, course TEXT NOT NULL, trigger TEXT NOT NULL,
                requested_by TEXT NOT NULL, started_at REAL NOT NULL, seconds REAL, outcome TEXT NOT NULL, report TEXT, error TEXT);
            CREATE TABLE questions (id INTEGER PRIMARY KEY AUTOINCREMENT, asked_at REAL NOT NULL, course TEXT NOT NULL,
                platform TEXT NOT NULL, asker TEXT, text TEXT NOT NULL, kind TEXT NOT NULL, grounded INTEGER NOT NULL,
                citations TEXT NOT NULL, total_ms REAL NOT NULL);
            CREATE TABLE answer_messages (platform TEXT NOT NULL, message TEXT NOT NULL, question_id INTEGER NOT NULL,
                PRIMARY KEY (platform, message));
            CREATE TABLE feedback (question_id INTEGER NOT NULL, platform TEXT NOT NULL, user TEXT NOT NULL, vote INTEGER NOT NULL,
                at REAL NOT NULL, PRIMARY KEY (question_id, platform, user));
            INSERT INTO runs VALUES (1, 'cs101', 'cli', 'ada', 1700000000, 2.5, 'ok', NULL, NULL);
            INSERT INTO questions VALUES (7, 1700000100, 'cs101', 'slack', 'U1', 'What does break do?', 'answer', 1, '[]', 120.0);
            INSERT INTO answer_messages VALUES ('slack', 'C1:1.2', 7);
            INSERT INTO feedback VALUES (7, 'slack', 'U2', 1, 1700000200);
            """
        )
    with sqlite3.connect(folder / "catalog.sqlite") as db:
        db.executescript(
            """
            CREATE TABLE generation_files (generation TEXT NOT NULL, source TEXT NOT NULL, sha256 TEXT NOT NULL,
                chunks INTEGER NOT NULL, ingested_at REAL NOT NULL, PRIMARY KEY (generation, source));
            CREATE TABLE generation_assets (generation TEXT NOT NULL, source TEXT NOT NULL, asset TEXT NOT NULL,
                PRIMARY KEY (generation, source, asset));
            CREATE TABLE courses (course TEXT PRIMARY KEY, fingerprint TEXT, sources TEXT, last_report TEXT, last_ingest_at REAL);
            INSERT INTO generation_files VALUES ('cs101__g1', 'loops.md', 'aa', 3, 1700000000);
            INSERT INTO courses VALUES ('cs101', 'fp', '[]', NULL, 1700000000);
            """
        )
    return folder


def test_an_old_data_dir_is_imported_once_with_its_votes_following_their_questions(database: Database, tmp_path: Path) -> None:
    log = QuestionLog(database)
    log.record(Question(text="already here"), "cs101", answer())
    old = legacy_data_dir(tmp_path / "old")
    files = (old / "history.sqlite", old / "catalog.sqlite")

    report = import_files(database, files)
    assert report.rows["questions"] == 1 and report.rows["feedback"] == 1 and report.rows["runs"] == 1
    imported = log.question_for_message("slack", "C1:1.2")
    assert imported is not None and log.get(imported).text == "What does break do?"
    assert [(v.user, v.question.id) for v in log.feedback()] == [("U2", imported)]
    assert Manifest(database.engine).files("cs101__g1")["loops.md"].sha256 == "aa"
    assert RunHistory(database).last("cs101").requested_by == "ada"

    with pytest.raises(StateImportError, match="imported already"):
        import_files(database, files)
    assert len(log.recent()) == 2, "a refused import adds nothing"


def test_a_file_that_is_not_ours_is_refused_and_nothing_is_imported(database: Database, tmp_path: Path) -> None:
    stranger = tmp_path / "history.sqlite"
    with sqlite3.connect(stranger) as db:
        db.execute("CREATE TABLE songs (title TEXT)")
    with pytest.raises(StateImportError, match="none of AI Mentor's tables"):
        import_files(database, (stranger,))
    garbage = tmp_path / "catalog.sqlite"
    garbage.write_text("not a database")
    with pytest.raises(StateImportError, match="cannot be read as SQLite"):
        import_files(database, (garbage,))


def test_an_unreachable_server_stops_startup_naming_the_setting() -> None:
    with pytest.raises(DatabaseUnavailableError, match=r"127\.0\.0\.1.*MENTOR_DATABASE_URL.*refused"):
        Database.open(f"postgresql://mentor:secret@127.0.0.1:{free_port()}/mentor")


@pytest.mark.parametrize(
    ("url", "problem"),
    [("not a url", "not a database URL"), ("mysql://u@h/db", "SQLite or PostgreSQL"), ("postgresql+psycopg2://u@h/db", "psycopg 3")],
)
def test_a_bad_url_is_a_config_error(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        Database.open(url)


def test_the_password_never_shows_in_the_error(postgres_server: object) -> None:
    with pytest.raises(DatabaseUnavailableError) as refused:
        Database.open(f"postgresql://mentor:hunter2@127.0.0.1:{free_port()}/mentor")
    assert "hunter2" not in str(refused.value) and "***" in str(refused.value)
