"""Closing the app: answers and reindexes in flight finish before the index closes, within a bound,
and askers whose answers cannot finish are told to ask again."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import aiohttp
import pytest

from bot.app import MentorApp
from bot.config.sections import HealthSettings, LlmSettings, ScheduleSettings, ServeSettings, WebSettings
from bot.config.settings import Settings
from bot.errors import ShuttingDownError
from bot.serve import serve
from bot.service.commands import ChatCommands
from bot.service.reindex import ReindexService
from bot.store.history import RunRecord
from models import Course, Question
from rag.milvus_lock import MilvusLiteLock
from rag.owned_lock import OwnedLock
from tests.adapters.web_helpers import read_events
from tests.conftest import free_port, until

LOOPS = "# Loops\n\n## Break\n\nThe break statement stops the innermost loop early.\n"


def build(tmp_path: Path, grace: float) -> MentorApp:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "loops.md").write_text(LOOPS)
    settings = Settings(data_dir=tmp_path / "data", courses=[Course(name="cs101", sources=(folder,))], serve=ServeSettings(stop_grace_seconds=grace))
    return MentorApp(settings)


def index_open(app: MentorApp) -> bool:
    """Milvus Lite's database lock is held exactly while this process has the index open."""
    return OwnedLock(MilvusLiteLock(Path(app.settings.milvus_uri_resolved).resolve()).path).holder() is not None


def reindex_in_flight(app: MentorApp, release: threading.Event, writing: threading.Event) -> RunRecord:
    """A real reindex, held on its worker thread as it reads the course (the index already open)."""

    def hold(done: int, total: int, source: str) -> None:
        writing.set()
        release.wait(timeout=120)

    async def scenario() -> RunRecord:
        return await ReindexService(app).reindex_async("cs101", "schedule", "schedule", hold)

    return asyncio.run(scenario())


def test_close_waits_for_a_reindex_still_writing_before_it_closes_the_index(tmp_path: Path) -> None:
    app = build(tmp_path, grace=120)
    release, writing = threading.Event(), threading.Event()
    records: list[RunRecord] = []
    running = threading.Thread(target=lambda: records.append(reindex_in_flight(app, release, writing)))
    running.start()
    closing = threading.Thread(target=app.close)
    try:
        assert writing.wait(timeout=120) and index_open(app)
        closing.start()
        closing.join(timeout=2)
        assert closing.is_alive(), "close() waits for the reindex"
        assert index_open(app), "the index stays open under the reindex still writing"
    finally:
        release.set()
        running.join(timeout=120)
        closing.join(timeout=120)
    assert [record.outcome for record in records] == ["ok"]
    assert not closing.is_alive() and not index_open(app), "closed once the reindex ended"


def test_close_gives_up_on_work_still_running_after_the_grace(tmp_path: Path) -> None:
    app = build(tmp_path, grace=0.5)
    app.index.connect()
    release, started = threading.Event(), threading.Event()

    def stuck() -> None:
        started.set()
        release.wait(timeout=120)

    async def scenario() -> None:
        job = asyncio.create_task(app.offloader.run(stuck))
        await until(started.is_set)
        await asyncio.to_thread(app.close)  # returns: the bound holds even though the job never ends
        assert not index_open(app) and not job.done()
        release.set()
        await job

    try:
        asyncio.run(scenario())
    finally:
        release.set()


def test_askers_whose_answers_cannot_finish_are_told_to_ask_again_and_new_ones_are_turned_away(tmp_path: Path) -> None:
    app = build(tmp_path, grace=0.5)
    commands = ChatCommands(app)
    release, started = threading.Event(), threading.Event()

    def slow_answer() -> str:
        started.set()
        release.wait(timeout=120)
        return "too late"

    async def scenario() -> tuple[object, str, BaseException | None]:
        in_flight = asyncio.create_task(app.offloader.run(slow_answer))
        await until(started.is_set)
        draining = asyncio.create_task(app.offloader.drain(app.settings.serve.stop_grace_seconds))
        await asyncio.sleep(0)
        with pytest.raises(ShuttingDownError) as refused:
            await commands.ask(Question(text="what does break do?", course="cs101", platform="web"))
        unfinished = await draining
        told = await asyncio.gather(in_flight, return_exceptions=True)
        release.set()
        return unfinished, str(refused.value), told[0]

    try:
        unfinished, refused, told = asyncio.run(scenario())
    finally:
        release.set()
        app.close()
    assert isinstance(told, ShuttingDownError) and "ask again in a minute" in str(told)
    assert "ask again in a minute" in refused
    assert str(unfinished) == "1 answer"


def test_serve_stops_in_order_and_a_student_still_waiting_hears_to_ask_again(tmp_path: Path) -> None:
    app = build(tmp_path, grace=1.0)
    port = free_port()
    app.settings = app.settings.model_copy(
        update={
            "web": WebSettings(enabled=True, port=port),
            "health": HealthSettings(enabled=False),
            "reindex": ScheduleSettings(enabled=False),
            "llm": LlmSettings(temperature=0.0, max_tokens=16, n_ctx=2048),
        }
    )
    said: list[str] = []
    release = threading.Event()

    async def scenario() -> tuple[list[tuple[str, dict]], int]:
        stop = asyncio.Event()
        server = asyncio.create_task(serve(app, said.append, stop))
        await until(lambda: any(line.startswith("serving") for line in said) or server.done(), timeout=180)
        workers = app.offloader.retrieval.workers
        # Every search worker busy with an answer that will not end in time; the student's question waits behind them.
        busy = [asyncio.create_task(app.offloader.retrieve(release.wait)) for _ in range(workers)]
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/api/ask", json={"question": "what does break do?"}) as response:
                await until(lambda: app.offloader.admitted == workers + 1)
                stop.set()
                events = await read_events(response)
        await asyncio.gather(*busy, return_exceptions=True)
        release.set()
        await server
        return events, workers

    try:
        events, workers = asyncio.run(scenario())
    finally:
        release.set()
    assert events[-1][0] == "error" and "ask again in a minute" in events[-1][1]["message"]
    assert f"stopping: {workers + 1} answers or reindexes in flight get up to 1 s" in " ".join(said), said
    assert f"{workers + 1} answers did not finish within 1 s" in " ".join(said), said
    assert said[-1] == "stopped"
