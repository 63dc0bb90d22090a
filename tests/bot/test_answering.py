"""The async face of answering: the event loop stays free, the queue is bounded."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bench.fake_llm import FakeLLM
from bot.app import MentorApp
from bot.config.sections import LlmSettings
from bot.errors import BusyError
from bot.service.answering import AnswerService
from bot.service.offload import Offloader
from models import Question
from tests.conftest import example_course_app, until


@pytest.fixture(scope="module")
def mentor(tmp_path_factory: pytest.TempPathFactory):
    app = example_course_app(tmp_path_factory.mktemp("service"))
    yield app
    app.close()


def test_concurrent_questions_are_answered_while_the_loop_keeps_running(mentor: MentorApp) -> None:
    async def scenario() -> tuple[list, int, set[int], int]:
        loop_thread = threading.get_ident()
        service = AnswerService(mentor, mentor.offloader)
        partial_threads: set[int] = set()
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        def on_partial(text: str) -> None:
            partial_threads.add(threading.get_ident())

        ticking = asyncio.create_task(ticker())
        questions = ["what does break do?", "how do I make an empty set", "7 / 2 gives 3.5 but I want 3"]
        answers = await asyncio.gather(*(service.answer(Question(text=q), on_partial) for q in questions))
        done.set()
        await ticking
        return answers, ticks, partial_threads, loop_thread

    answers, ticks, partial_threads, loop_thread = asyncio.run(scenario())
    assert [a.kind for a in answers] == ["answer"] * 3
    assert all(a.citations for a in answers)
    assert partial_threads == {loop_thread}, "partial text is delivered on the event loop"
    assert ticks > 3, "the loop ran other work while the model was writing"


def test_a_full_queue_turns_work_away_at_once_and_loses_nothing_admitted() -> None:
    async def scenario() -> tuple[list[str], str]:
        offloader = Offloader(workers=1, queue_size=1)
        release = threading.Event()

        def slow(label: str) -> str:
            release.wait(timeout=30)
            return label

        first = asyncio.create_task(offloader.run(slow, "first"))
        second = asyncio.create_task(offloader.run(slow, "second"))
        await asyncio.sleep(0.05)
        with pytest.raises(BusyError) as refused:
            await offloader.run(slow, "third")
        release.set()
        results = [await first, await second]
        offloader.shutdown()
        return results, str(refused.value)

    results, message = asyncio.run(scenario())
    assert results == ["first", "second"]
    assert "try again" in message


def test_work_whose_caller_stops_waiting_still_runs_to_its_end() -> None:
    """A closed page or a stopping server cancels the waiting, never the work: a reindex queued
    behind another still runs and is recorded."""

    async def scenario() -> list[str]:
        offloader = Offloader(workers=1, queue_size=1)
        release, done = threading.Event(), []

        def job(label: str) -> None:
            release.wait(timeout=30)
            done.append(label)

        first = asyncio.create_task(offloader.run_reindex(job, "running"))
        queued = asyncio.create_task(offloader.run_reindex(job, "queued"))
        await asyncio.sleep(0.05)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        release.set()
        await first
        offloader.shutdown(grace=30)
        return done

    assert asyncio.run(scenario()) == ["running", "queued"]


def test_a_decline_is_not_kept_waiting_behind_answers_being_written(tmp_path) -> None:
    """Search runs on workers of its own: while the one generation slot is busy, a question the
    course does not cover is declined at once instead of waiting for the model."""
    llm = FakeLLM(answer_seconds=1.5, slots=1).start()
    app = example_course_app(tmp_path)
    app.settings = app.settings.model_copy(update={"llm": LlmSettings(base_url=llm.base_url, model="fake", parallel=1, max_tokens=64)})

    async def scenario() -> list[str]:
        service = AnswerService(app, app.offloader)
        finished: list[str] = []

        async def ask(student: str, text: str) -> None:
            answer = await service.answer(Question(text=text, asker=student, platform="web"))
            finished.append(f"{student}:{answer.kind}")

        # More than the old shared pool held (one per generation, plus two): all of it waiting on the model.
        writing = [asyncio.create_task(ask(f"s{n}", "what does break do in a loop?")) for n in range(4)]
        await until(lambda: llm.requests >= 1)
        await ask("s9", "When is the midterm exam, and is it open book?")
        await asyncio.gather(*writing)
        return finished

    try:
        finished = asyncio.run(scenario())
    finally:
        app.close()
        llm.stop()
    assert finished[0] == "s9:not_covered"
    assert sorted(finished[1:]) == [f"s{n}:answer" for n in range(4)]
