"""The reindex lock seen from `status`: reading who runs never takes the lock, in this process or another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from bot.errors import ReindexBusyError
from bot.store.reindex_lock import CourseReindexLock, running_reindex

REPO = Path(__file__).resolve().parents[2]
HOLD = """
import sys
from pathlib import Path
from bot.store.reindex_lock import CourseReindexLock
lock = CourseReindexLock(Path(sys.argv[1]), "cs101")
lock.acquire("slash command", "prof. hopper")
print("held", flush=True)
sys.stdin.readline()
"""


def test_reindexes_asked_for_while_status_is_read_are_never_refused(tmp_path: Path) -> None:
    stop = threading.Event()
    reads = 0

    def read_status() -> None:
        nonlocal reads
        while not stop.is_set():
            running_reindex(tmp_path, "cs101")
            reads += 1

    reader = threading.Thread(target=read_status)
    reader.start()
    refusals: list[str] = []
    lock = CourseReindexLock(tmp_path, "cs101")
    try:
        for _ in range(2000):
            try:
                lock.acquire("slash command", "ada")
            except ReindexBusyError as busy:
                refusals.append(str(busy))
                continue
            lock.release()
    finally:
        stop.set()
        reader.join()
    assert reads > 0
    assert refusals == [], f"{len(refusals)} reindexes refused by a status read, e.g. {refusals[0]}"


def test_reading_status_leaves_the_lock_file_as_the_last_run_left_it(tmp_path: Path) -> None:
    lock = CourseReindexLock(tmp_path, "cs101")
    lock.acquire("cli", "ada")
    lock.release()
    before = (tmp_path / "reindex-cs101.lock").read_text()
    assert running_reindex(tmp_path, "cs101") is None
    assert (tmp_path / "reindex-cs101.lock").read_text() == before


def test_status_reports_a_reindex_running_in_another_process_until_it_exits(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], cwd=REPO, env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        running = running_reindex(tmp_path, "cs101")
        assert running is not None
        assert (running.requested_by, running.trigger, running.pid) == ("prof. hopper", "slash command", child.pid)
        assert json.loads((tmp_path / "reindex-cs101.lock").read_text())["pid"] == child.pid
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)
    assert running_reindex(tmp_path, "cs101") is None


def test_status_reports_a_reindex_running_on_another_thread_of_this_process(tmp_path: Path) -> None:
    lock = CourseReindexLock(tmp_path, "cs101")
    lock.acquire("schedule", "schedule")
    try:
        running = running_reindex(tmp_path, "cs101")
        assert running is not None and running.pid == os.getpid() and running.trigger == "schedule"
    finally:
        lock.release()
    assert running_reindex(tmp_path, "cs101") is None
