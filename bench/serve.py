"""`mentor serve` as the operator and a browser see it, on the sample course with SmolLM2.

Prints, in one run:
1. `/healthz` latency p50/p95 when idle, and while 4 questions stream through the web
   page at once (health must never wait behind answers: the target is p95 under 50 ms);
2. for those questions, the time to the first streamed text and to the final answer in
   the browser's API (`POST /api/ask`), beside the same questions answered one by one
   straight through `ChatCommands` in the same process, so the adapter's share is a ratio.

    .venv/bin/python -m bench.serve
"""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.stats import percentile
from bot.app import MentorApp
from bot.config.sections import AnswerSettings, HealthSettings, LlmSettings, WebSettings
from bot.config.settings import Settings
from bot.ops.logs import configure_logging
from bot.serve import serve
from bot.service.commands import ChatCommands
from models import Course, Question

COURSE = Path(__file__).resolve().parents[1] / "examples" / "course"
QUESTIONS = [
    "How do I make a loop stop early?",
    "What is the difference between a list and a tuple?",
    "How do I read a file line by line?",
    "What does range(5) give me?",
]
HEALTH_PROBES = 60


def main() -> None:
    configure_logging()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            courses=[Course(name="cs101", sources=(COURSE,))],
            llm=LlmSettings(temperature=0.0, max_tokens=96, n_ctx=2048),
            answer=AnswerSettings(mode="generate"),  # streaming is what it times
            web=WebSettings(port=_free_port()),
            health=HealthSettings(port=_free_port()),
        )
        mentor = MentorApp(settings)
        mentor.ingest("cs101")
        direct = asyncio.run(_direct(mentor))
        mentor.close()
        asyncio.run(_served(MentorApp(settings), direct))


async def _direct(mentor: MentorApp) -> list[tuple[float, float]]:
    """Baseline: each question through `ChatCommands`, one at a time (first text, total) in ms."""
    commands = ChatCommands(mentor)
    timings = []
    for text in QUESTIONS:
        started, first = time.perf_counter(), None

        def on_partial(_: str) -> None:
            nonlocal first
            first = first or time.perf_counter()

        await commands.ask(Question(text=text, platform="bench"), on_partial)
        done = time.perf_counter()
        timings.append((((first or done) - started) * 1000, (done - started) * 1000))
    return timings


async def _served(mentor: MentorApp, direct: list[tuple[float, float]]) -> None:
    stop = asyncio.Event()
    service = asyncio.create_task(serve(mentor, lambda line: None, stop))
    web = f"http://127.0.0.1:{mentor.settings.web.port}"
    health = f"http://127.0.0.1:{mentor.settings.health.port}/healthz"
    async with aiohttp.ClientSession() as session:
        await _until_healthy(session, health)
        idle = [await _probe(session, health) for _ in range(HEALTH_PROBES)]
        asks = [asyncio.create_task(_ask(session, web, text)) for text in QUESTIONS]
        busy: list[float] = []
        while not all(task.done() for task in asks):
            busy.append(await _probe(session, health))
            await asyncio.sleep(0.05)
        served = [task.result() for task in asks]
        sequential = [await _ask(session, web, text) for text in QUESTIONS]
    stop.set()
    await service

    print(f"/healthz idle: p50 {percentile(idle, 0.5):.1f} ms, p95 {percentile(idle, 0.95):.1f} ms ({len(idle)} probes)")
    print(f"/healthz while {len(QUESTIONS)} answers stream: p50 {percentile(busy, 0.5):.1f} ms, p95 {percentile(busy, 0.95):.1f} ms ({len(busy)} probes)")
    print(f"{len(QUESTIONS)} questions at once through the web page: first text p50 {percentile([f for f, _ in served], 0.5):.0f} ms, "
          f"answer p50 {percentile([t for _, t in served], 0.5):.0f} ms, max {max(t for _, t in served):.0f} ms")
    for name, rows in (("ChatCommands, one at a time", direct), ("web page, one at a time", sequential)):
        print(f"{name}: first text p50 {percentile([f for f, _ in rows], 0.5):.0f} ms, answer p50 {percentile([t for _, t in rows], 0.5):.0f} ms")
    ratio = percentile([t for _, t in sequential], 0.5) / percentile([t for _, t in direct], 0.5)
    print(f"web page vs ChatCommands, answer p50 ratio: {ratio:.2f}")


async def _ask(session: aiohttp.ClientSession, base: str, text: str) -> tuple[float, float]:
    started, first = time.perf_counter(), None
    async with session.post(base + "/api/ask", json={"question": text, "course": "cs101"}) as response:
        async for raw in response.content:
            line = raw.decode().strip()
            if line.startswith("event: partial") and first is None:
                first = time.perf_counter()
            if line.startswith("data:") and '"question_id"' in line:
                assert json.loads(line[5:])["text"], "every answer has text"
    done = time.perf_counter()
    return ((first or done) - started) * 1000, (done - started) * 1000


async def _probe(session: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with session.get(url) as response:
        await response.read()
    return (time.perf_counter() - started) * 1000


async def _until_healthy(session: aiohttp.ClientSession, url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("mentor serve never became healthy")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    main()
