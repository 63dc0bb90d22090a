"""The reindex service: one run per course at a time, a history of runs, Git sources, the schedule."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from apscheduler.triggers.date import DateTrigger

from bot.app import MentorApp
from bot.config.sections import ScheduleSettings
from bot.config.settings import Settings
from bot.errors import BusyError, ReindexBusyError, UnknownCourseError
from bot.service.commands import ChatCommands
from bot.service.offload import Lane
from bot.service.reindex import ReindexService
from bot.service.schedule import ReindexScheduler
from bot.store.history import RunRecord
from bot.store.schedule_claims import ScheduleClaims
from models import Course
from tests.conftest import until

LOOPS = "# Loops\n\n## Break\n\nThe break statement stops the innermost loop early.\n"
SETS = "# Sets\n\n## Empty sets\n\nAn empty set is made with set(), because {} is an empty dict.\n"


@pytest.fixture
def materials(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "loops.md").write_text(LOOPS)
    return folder


@pytest.fixture
def mentor(tmp_path: Path, materials: Path) -> Iterator[MentorApp]:
    app = MentorApp(Settings(data_dir=tmp_path / "data", courses=[Course(name="cs101", sources=(materials,))]))
    yield app
    app.close()


def test_a_run_is_recorded_with_its_trigger_who_and_what_changed(mentor: MentorApp, materials: Path) -> None:
    service = ReindexService(mentor)
    first = service.reindex("cs101", "cli", "ada")
    (materials / "sets.md").write_text(SETS)
    second = service.reindex(None, "slash command", "grace")
    assert (first.outcome, first.trigger, first.requested_by, first.report.added) == ("ok", "cli", "ada", ["loops.md"])
    assert (second.trigger, second.requested_by, second.report.added, second.report.unchanged) == (
        "slash command", "grace", ["sets.md"], ["loops.md"]
    )
    assert [run.id for run in service.history.runs("cs101")] == [second.id, first.id]
    assert second.seconds is not None and second.seconds >= 0
    assert "grace" in second.summary() and "1 added" in second.summary()


def test_a_second_request_while_one_runs_is_told_who_started_it_and_never_runs(mentor: MentorApp) -> None:
    service = ReindexService(mentor)
    holder = mentor.reindex_locks.for_course("cs101")
    holder.acquire("slash command", "prof. hopper")
    try:
        with pytest.raises(ReindexBusyError, match=r"already running since \d\d:\d\d UTC, started by prof\. hopper \(slash command\)"):
            service.reindex("cs101", "cli", "ada")
        running = mentor.reindex_locks.running("cs101")
        assert running is not None and running.requested_by == "prof. hopper"
        assert mentor.status()[0].running is not None
    finally:
        holder.release()
    assert service.history.runs("cs101") == [], "the refused request left no run behind"
    assert mentor.reindex_locks.running("cs101") is None


def test_concurrent_requests_run_once(mentor: MentorApp, materials: Path) -> None:
    for n in range(12):
        (materials / f"extra-{n}.md").write_text(f"# Extra {n}\n\n## Part\n\n" + LOOPS * 5)
    service = ReindexService(mentor)
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def request(who: str) -> None:
        start.wait()
        try:
            service.reindex("cs101", "slash command", who)
            outcomes.append("ran")
        except ReindexBusyError:
            outcomes.append("busy")

    threads = [threading.Thread(target=request, args=(f"ta{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert outcomes.count("ran") >= 1 and len(outcomes) == 4
    runs = service.history.runs("cs101")
    assert len(runs) == outcomes.count("ran")
    assert sum(len(run.report.added) for run in runs) == 13, "every file was ingested exactly once"


def test_an_unknown_course_is_refused_by_name(mentor: MentorApp) -> None:
    with pytest.raises(UnknownCourseError, match="cs999"):
        ReindexService(mentor).reindex("cs999", "slash command", "ada")


def test_a_run_killed_before_it_finished_is_marked_interrupted(mentor: MentorApp) -> None:
    service = ReindexService(mentor)
    service.history.start("cs101", "schedule", "schedule")
    service.reindex("cs101", "cli", "ada")
    assert [run.outcome for run in service.history.runs("cs101")] == ["ok", "interrupted"]


def git(*args: str, cwd: Path | None = None) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.edu", "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.edu", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env, check=True, capture_output=True)


def test_a_course_kept_in_git_is_fetched_before_each_run_and_survives_the_remote_going_away(tmp_path: Path) -> None:
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git("init", "--bare", str(remote))
    git("clone", str(remote), str(work))
    (work / "loops.md").write_text(LOOPS)
    git("add", ".", cwd=work)
    git("commit", "-m", "week 1", cwd=work)
    git("push", "origin", "HEAD:main", cwd=work)

    app = MentorApp(Settings(data_dir=tmp_path / "data", courses=[Course(name="cs101", repository=str(remote), branch="main")]))
    try:
        service = ReindexService(app)
        assert service.reindex("cs101", "schedule", "schedule").report.added == ["loops.md"]

        (work / "sets.md").write_text(SETS)
        git("add", ".", cwd=work)
        git("commit", "-m", "week 2", cwd=work)
        git("push", "origin", "HEAD:main", cwd=work)
        second = service.reindex("cs101", "schedule", "schedule")
        assert second.report.added == ["sets.md"] and second.report.warnings == []

        shutil.rmtree(remote)
        third = service.reindex("cs101", "schedule", "schedule")
        assert third.outcome == "ok" and sorted(third.report.unchanged) == ["loops.md", "sets.md"]
        assert third.report.removed == []
        assert any("cannot fetch" in warning for warning in third.report.warnings)
        assert app.retriever.search("cs101", "how do I make an empty set").hits[0].source == "sets.md"
    finally:
        app.close()


def test_the_scheduler_fires_a_course_and_reports_what_changed(mentor: MentorApp, materials: Path) -> None:
    course = mentor.course("cs101")
    posted: list[RunRecord] = []

    async def scenario() -> RunRecord | None:
        scheduler = ReindexScheduler(ReindexService(mentor), [course], ScheduleSettings(jitter_seconds=0), ScheduleClaims(mentor.database))

        async def sink(reported: Course, record: RunRecord) -> None:
            posted.append(record)

        scheduler.sinks.append(sink)
        scheduler.start({"cs101": DateTrigger(datetime.now(timezone.utc) + timedelta(milliseconds=200))})
        try:
            for _ in range(600):
                if posted:
                    break
                await asyncio.sleep(0.1)
            return ReindexService(mentor).history.last("cs101")
        finally:
            scheduler.shutdown()

    record = asyncio.run(scenario())
    assert record is not None and record.trigger == "schedule" and record.report.added == ["loops.md"]
    assert [run.id for run in posted] == [record.id], "a run that changed something is posted to the course's channel"


def test_status_shows_the_last_run_and_the_next_scheduled_one(mentor: MentorApp) -> None:
    ReindexService(mentor).reindex("cs101", "cli", "ada")
    (status,) = mentor.status()
    assert status.last_run is not None and status.last_run.requested_by == "ada"
    assert status.next_run is not None and status.next_run.hour == 3 and status.next_run > datetime.now(timezone.utc)
    assert status.to_json()["next_run"].endswith("03:00:00+00:00")


async def fill(lane: Lane, release: threading.Event) -> list[asyncio.Task[None]]:
    """Jobs that hold every worker and queue slot of `lane` until `release` is set."""
    blockers: list[asyncio.Task[None]] = []
    while True:
        task = asyncio.create_task(lane.run(release.wait))
        await asyncio.sleep(0)
        if task.done():
            with pytest.raises(BusyError):
                task.result()
            return blockers
        blockers.append(task)


def test_a_busy_queue_skips_the_scheduled_run_posts_nothing_stale_and_retries_soon(mentor: MentorApp, materials: Path) -> None:
    course = mentor.course("cs101")
    posted: list[RunRecord] = []

    async def sink(reported: Course, record: RunRecord) -> None:
        posted.append(record)

    async def scenario() -> tuple[RunRecord | None, RunRecord | None, list[int]]:
        scheduler = ReindexScheduler(
            ReindexService(mentor), [course], ScheduleSettings(jitter_seconds=0, busy_retry_seconds=1), ScheduleClaims(mentor.database)
        )
        scheduler.sinks.append(sink)
        scheduler.start()
        release = threading.Event()
        try:
            first = await scheduler.run_course(course)
            (materials / "sets.md").write_text(SETS)
            blockers = await fill(mentor.offloader.reindexes, release)
            skipped = await scheduler.run_course(course)
            after_skip = [record.id for record in posted]
            release.set()
            await asyncio.gather(*blockers)
            await until(lambda: len(posted) > 1, timeout=60)
            return first, skipped, after_skip
        finally:
            release.set()
            scheduler.shutdown()

    first, skipped, after_skip = asyncio.run(scenario())
    assert first is not None and skipped is None
    assert after_skip == [first.id], "a run that never happened posts no report, least of all the last one again"
    retried = posted[-1]
    assert retried.id != first.id and retried.trigger == "schedule" and retried.report.added == ["sets.md"]


def test_answers_never_wait_behind_the_reindexes_of_every_course(tmp_path: Path) -> None:
    """Three courses on one schedule: more reindexes than the answers' workers, all writing at once."""
    courses = []
    for name in ("cs101", "cs102", "cs103"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "loops.md").write_text(LOOPS)
        courses.append(Course(name=name, sources=(folder,)))
    app = MentorApp(Settings(data_dir=tmp_path / "data", courses=courses))
    commands = ChatCommands(app)
    release, writing = threading.Event(), threading.Event()

    def hold(done: int, total: int, source: str) -> None:  # on the reindex's worker thread, as it reads
        writing.set()
        release.wait(timeout=120)

    async def scenario() -> tuple[str, bytes, list[RunRecord]]:
        runs = [asyncio.create_task(commands.reindexer.reindex_async(c.name, "schedule", "schedule", hold)) for c in courses]
        try:
            await until(writing.is_set, timeout=60)
            # A deadlock guard, not a stopwatch: with the answers' workers all reindexing, this never runs.
            answered = await asyncio.wait_for(app.offloader.run(lambda: threading.current_thread().name), 30)
            exposition = commands.metrics.exposition()
        finally:
            release.set()
        return answered, exposition, list(await asyncio.gather(*runs))

    try:
        answered, exposition, records = asyncio.run(scenario())
    finally:
        app.close()
    assert answered.startswith("mentor-work")
    assert b"mentor_reindex_queue_depth 3.0" in exposition and b"mentor_queue_depth 0.0" in exposition
    assert [record.outcome for record in records] == ["ok"] * 3, "queued reindexes still run, one after another"


def test_a_second_request_while_the_course_reindexes_is_refused_at_once_not_queued_behind_it(mentor: MentorApp) -> None:
    release, writing = threading.Event(), threading.Event()

    def hold(done: int, total: int, source: str) -> None:
        writing.set()
        release.wait(timeout=120)

    async def scenario() -> tuple[str, int, RunRecord]:
        service = ReindexService(mentor)
        first = asyncio.create_task(service.reindex_async("cs101", "slash command", "ada", hold))
        try:
            await until(writing.is_set, timeout=60)
            with pytest.raises(ReindexBusyError) as refused:
                await service.reindex_async("cs101", "slash command", "grace")
            waiting = mentor.offloader.reindexes.admitted
        finally:
            release.set()
        return str(refused.value), waiting, await first

    refused, waiting, record = asyncio.run(scenario())
    assert "started by ada (slash command)" in refused and waiting == 1
    assert record.outcome == "ok" and len(ReindexService(mentor).history.runs("cs101")) == 1
