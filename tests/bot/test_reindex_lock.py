"""The reindex lock file seen from `status`: reading who runs never takes the lock, in this process or another
(that looking never refuses a reindex is in the state contract, test_state_stores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.store.reindex_lock import CourseReindexLock

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


def test_reading_status_leaves_the_lock_file_as_the_last_run_left_it(tmp_path: Path) -> None:
    lock = CourseReindexLock(tmp_path, "cs101")
    lock.acquire("cli", "ada")
    lock.release()
    before = (tmp_path / "reindex-cs101.lock").read_text()
    assert CourseReindexLock(tmp_path, "cs101").running() is None
    assert (tmp_path / "reindex-cs101.lock").read_text() == before


def test_status_reports_a_reindex_running_in_another_process_until_it_exits(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], cwd=REPO, env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        running = CourseReindexLock(tmp_path, "cs101").running()
        assert running is not None
        assert (running.requested_by, running.trigger, running.pid) == ("prof. hopper", "slash command", child.pid)
        assert json.loads((tmp_path / "reindex-cs101.lock").read_text())["pid"] == child.pid
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)
    assert CourseReindexLock(tmp_path, "cs101").running() is None


def test_status_reports_a_reindex_running_on_another_thread_of_this_process(tmp_path: Path) -> None:
    lock = CourseReindexLock(tmp_path, "cs101")
    lock.acquire("schedule", "schedule")
    try:
        running = CourseReindexLock(tmp_path, "cs101").running()
        assert running is not None and running.pid == os.getpid() and running.trigger == "schedule"
    finally:
        lock.release()
    assert CourseReindexLock(tmp_path, "cs101").running() is None
