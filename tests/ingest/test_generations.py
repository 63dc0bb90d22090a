"""Reindexing with students searching: never an empty or half-built index, and a killed run resumes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import MentorApp
from bot.config.sections import ChunkingSettings
from bot.config.settings import Settings
from models import Course
from rag.index import collection_name
from tests.conftest import EXAMPLE_COURSE, REPO

QUESTIONS = ["what does break do in a loop?", "how do I make an empty set", "open a file for writing", "default argument list"]


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "materials"
    shutil.copytree(EXAMPLE_COURSE, folder)
    return folder


def app(data: Path, course_dir: Path, chunk_size: int = 200) -> MentorApp:
    return MentorApp(
        Settings(
            data_dir=data,
            courses=[Course(name="cs101", sources=(course_dir,))],
            chunking=ChunkingSettings(size=chunk_size, overlap=40),
        )
    )


class SearchLoop:
    """Searches in a thread until stopped, recording failures and empty results."""

    def __init__(self, mentor: MentorApp) -> None:
        self.mentor = mentor
        self.done = threading.Event()
        self.searches = 0
        self.problems: list[str] = []
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self.done.is_set():
            question = QUESTIONS[self.searches % len(QUESTIONS)]
            try:
                hits = self.mentor.retriever.search("cs101", question).hits
                if not hits:
                    self.problems.append(f"no hits for {question!r}")
            except Exception as exc:  # noqa: BLE001 - any failure is what the test looks for
                self.problems.append(f"{type(exc).__name__}: {exc}")
            self.searches += 1

    def __enter__(self) -> SearchLoop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=60)


@pytest.fixture
def mentor(tmp_path: Path, course_dir: Path) -> Iterator[MentorApp]:
    mentor = app(tmp_path / "data", course_dir)
    mentor.ingest("cs101")
    yield mentor
    mentor.close()


def test_searches_during_an_incremental_reindex_never_fail_or_come_back_empty(mentor: MentorApp, course_dir: Path) -> None:
    (course_dir / "02-control-flow.md").write_text(
        (course_dir / "02-control-flow.md").read_text() + "\n\n## Loop else\n\nA loop's else runs when no break happened.\n"
    )
    (course_dir / "03-functions.md").unlink()
    (course_dir / "06-classes.md").write_text("# Classes\n\n## Defining a class\n\nUse the class keyword.\n")
    with SearchLoop(mentor) as loop:
        report = mentor.ingest("cs101")
    assert (report.added, report.changed, report.removed) == (["06-classes.md"], ["02-control-flow.md"], ["03-functions.md"])
    assert loop.searches > 0 and loop.problems == []


def test_a_new_fingerprint_rebuilds_beside_the_live_index_and_switches_the_alias(
    tmp_path: Path, mentor: MentorApp, course_dir: Path
) -> None:
    old = mentor.index.live_generation("cs101")
    chunks_before = mentor.index.count_chunks("cs101")
    mentor.close()
    rebuilt = app(tmp_path / "data", course_dir, chunk_size=120)
    try:
        with SearchLoop(rebuilt) as loop:
            report = rebuilt.ingest("cs101")
        new = rebuilt.index.live_generation("cs101")
        assert report.rebuilt and len(report.added) == 5
        assert new != old and new is not None and new.startswith(collection_name("cs101") + "__")
        assert old not in rebuilt.index.client.list_collections(), "the replaced generation is dropped"
        assert rebuilt.index.count_chunks("cs101") > chunks_before, "smaller chunks, more of them"
        assert loop.searches > 0 and loop.problems == []
        assert rebuilt.ingest("cs101").unchanged and not rebuilt.ingest("cs101").rebuilt
    finally:
        rebuilt.close()


def test_a_missing_source_folder_keeps_the_course_and_says_so(mentor: MentorApp, course_dir: Path) -> None:
    chunks = mentor.index.count_chunks("cs101")
    shutil.rmtree(course_dir)
    report = mentor.ingest("cs101")
    assert report.removed == [] and report.added == []
    assert any("is missing" in warning for warning in report.warnings)
    assert mentor.index.count_chunks("cs101") == chunks
    assert mentor.retriever.search("cs101", "what does break do?").hits


KILLED_INGEST = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from bot.app import MentorApp
from bot.ops.logs import configure_logging
from bot.config.sections import ChunkingSettings
from bot.config.settings import Settings
from models import Course

configure_logging()
mentor = MentorApp(Settings(data_dir=Path({data!r}), courses=[Course(name="cs101", sources=(Path({course!r}),))],
                            chunking=ChunkingSettings(size={size}, overlap=40)))

def on_progress(done, total, source):
    if done == 2:
        print("two files written", flush=True)
        time.sleep(600)

mentor.ingest("cs101", on_progress=on_progress)
"""


def run_until_killed(data: Path, course_dir: Path, size: int) -> None:
    """Start an ingest in a real subprocess and SIGKILL it after it wrote two files."""
    script = KILLED_INGEST.format(repo=str(REPO), data=str(data), course=str(course_dir), size=size)
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env={**os.environ, "GRPC_VERBOSITY": "NONE"}
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "two files written"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)


def test_a_rebuild_killed_midway_leaves_the_old_index_serving_and_the_next_run_finishes(
    tmp_path: Path, mentor: MentorApp, course_dir: Path
) -> None:
    old = mentor.index.live_generation("cs101")
    chunks = mentor.index.count_chunks("cs101")
    mentor.close()
    run_until_killed(tmp_path / "data", course_dir, size=120)

    after_kill = app(tmp_path / "data", course_dir, chunk_size=200)
    try:
        assert after_kill.index.live_generation("cs101") == old
        assert after_kill.index.count_chunks("cs101") == chunks
        assert after_kill.retriever.search("cs101", "how do I make an empty set").hits
    finally:
        after_kill.close()

    resumed = app(tmp_path / "data", course_dir, chunk_size=120)
    try:
        report = resumed.ingest("cs101")
        assert report.rebuilt
        assert len(report.unchanged) == 2 and len(report.added) == 3, "the two files written before the kill are kept"
        assert resumed.index.live_generation("cs101") != old
        assert {hit.source for hit in resumed.retriever.search("cs101", "break", k=10).hits} >= {"02-control-flow.md"}
    finally:
        resumed.close()


def test_an_incremental_run_killed_midway_is_completed_by_the_next(tmp_path: Path, course_dir: Path) -> None:
    run_until_killed(tmp_path / "data", course_dir, size=200)
    mentor = app(tmp_path / "data", course_dir)
    try:
        report = mentor.ingest("cs101")
        assert len(report.unchanged) + len(report.added) == 5
        assert report.added, "what the killed run did not reach is ingested now"
        assert mentor.index.count_chunks("cs101") > 0
        assert mentor.ingest("cs101").unchanged == sorted(p.name for p in course_dir.iterdir())
    finally:
        mentor.close()
