"""Driving `mentor serve` in Slack HTTP mode with many signed mentions at once, and reading back
what each thread shows in the fake Slack: shared by `bench.load` and `bench.faults`."""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import time
from pathlib import Path

import aiohttp

from bot.app import MentorApp
from bot.config.settings import Settings
from bot.serve import serve
from tests.adapters.fake_slack import BOT_USER, FakeSlack, event_body, signed_headers

COURSE = Path(__file__).resolve().parents[1] / "examples" / "course"
SECRET = "bench-signing-secret"
QUESTIONS = [
    "How do I make a loop stop early?",
    "What is the difference between a list and a tuple?",
    "How do I read a file line by line?",
    "What does range(5) give me?",
    "how do I make an empty set?",
]


async def mention(http: aiohttp.ClientSession, url: str, student: str, ts: str, n: int, retry: int | None = None) -> tuple[int, float]:
    """Student `student`'s mention in its own thread `ts`; `retry`: Slack redelivering it (`X-Slack-Retry-Num`)."""
    body = json.dumps(event_body({
        "type": "app_mention", "user": student, "text": f"<@{BOT_USER}> {QUESTIONS[n % len(QUESTIONS)]}",
        "ts": ts, "channel": "CCLASS", "event_ts": ts,
    }, f"Ev{ts}"))
    started = time.monotonic()
    async with http.post(url, data=body, headers=signed_headers(SECRET, body, retry=retry)) as response:
        await response.read()
        return response.status, time.monotonic() - started


def by_thread(fake: FakeSlack, threads: set[str]) -> dict[str, list[str]]:
    shown: dict[str, list[str]] = {ts: [] for ts in threads}
    for message in list(fake.messages.values()):
        if message["thread_ts"] in shown:
            shown[str(message["thread_ts"])].append(str(message["text"]))
    return shown


def settled(fake: FakeSlack, threads: set[str]) -> int:
    """Threads with a reply that is not a placeholder any more."""
    return sum(bool(texts) and all(not t.startswith(":hourglass_flowing_sand:") for t in texts) for texts in by_thread(fake, threads).values())


async def until_listening(http: aiohttp.ClientSession, url: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            async with http.post(url, data="{}") as response:
                if response.status in (200, 401):
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("mentor serve never listened for Slack events")


def serve_in_child(settings: Settings) -> multiprocessing.process.BaseProcess:
    """`mentor serve` in a process of its own, as in production: the load, the fake Slack and
    the fake LLM server in this one never take its event loop or its GIL."""
    child = multiprocessing.get_context("spawn").Process(target=_serve, args=(settings,), name="mentor-serve")
    child.start()
    return child


def _serve(settings: Settings) -> None:
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(serve(MentorApp(settings), lambda line: None))


def stop_child(child: multiprocessing.process.BaseProcess) -> None:
    child.terminate()  # SIGTERM: serve stops in order
    child.join(120)
    if child.is_alive():
        child.kill()
        child.join(10)


def rss_mib(pid: int | None) -> float:
    """Resident memory of process `pid` (None: this one), in MiB."""
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
