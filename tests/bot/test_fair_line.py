"""The fair line: round-robin across students, one question in service each, places told, nothing wedged."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import ShuttingDownError
from bot.service.fair_line import FairLine


async def serve_all(line: FairLine, asks: list[str]) -> list[str]:
    """Every ask waits its turn behind a question already in service; returns the students in the order served."""
    served: list[str] = []
    release = asyncio.Event()

    async def ask(student: str) -> None:
        async with line.turn(student):
            if student == "first":
                await release.wait()
            else:
                served.append(student)
                await asyncio.sleep(0)

    first = asyncio.create_task(ask("first"))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(ask(student)) for student in asks]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *rest)
    return served


def holding_asker(line: FairLine, release: asyncio.Event, served: list[str]):
    """`ask(student)`: waits its turn, notes that it was served, and holds the turn until `release`."""

    async def ask(student: str) -> None:
        async with line.turn(student):
            served.append(student)
            await release.wait()

    return ask


def test_a_student_with_twenty_questions_does_not_delay_twenty_others() -> None:
    others = [f"s{n}" for n in range(20)]
    served = asyncio.run(serve_all(FairLine(capacity=1), ["flood"] * 20 + others))
    # First come, first served would answer all twenty floods first; round-robin serves one
    # of each student per round, and the flooder's others wait behind their own.
    assert served == ["flood", *others, *["flood"] * 19]


def test_one_question_per_student_is_in_service_at_a_time() -> None:
    async def scenario() -> int:
        line = FairLine(capacity=4)
        most = 0
        in_service = 0

        async def ask() -> None:
            nonlocal most, in_service
            async with line.turn("same-student"):
                in_service += 1
                most = max(most, in_service)
                await asyncio.sleep(0.01)
                in_service -= 1

        await asyncio.gather(*(ask() for _ in range(6)))
        return most

    assert asyncio.run(scenario()) == 1


def test_waiting_questions_hear_their_place_as_it_shrinks() -> None:
    async def scenario() -> tuple[list[int], int]:
        line = FairLine(capacity=1)
        heard: list[int] = []
        release = asyncio.Event()

        async def first() -> None:
            async with line.turn("a"):
                await release.wait()

        async def later(student: str, on_position=None) -> None:
            async with line.turn(student, on_position):
                await asyncio.sleep(0.01)

        tasks = [asyncio.create_task(first())]
        await asyncio.sleep(0)
        tasks += [asyncio.create_task(later(s)) for s in ("b", "c", "d")]
        await asyncio.sleep(0)
        predicted = line.ahead_of_new("e")
        tasks.append(asyncio.create_task(later("e", heard.append)))
        await asyncio.sleep(1.2)  # positions are told about once a second
        release.set()
        await asyncio.gather(*tasks)
        return heard, predicted

    heard, predicted = asyncio.run(scenario())
    assert predicted == 3, "b, c and d wait ahead of a new student"
    assert heard[0] == 3
    assert heard == sorted(heard, reverse=True), "a place only ever shrinks"


def test_the_place_of_a_students_second_question_counts_everyone_elses_first() -> None:
    async def scenario() -> dict[str, int]:
        line = FairLine(capacity=1)
        release = asyncio.Event()

        async def ask(student: str) -> None:
            async with line.turn(student):
                await release.wait()

        tasks = [asyncio.create_task(ask(s)) for s in ("busy", "x", "x", "y", "z")]
        await asyncio.sleep(0)
        places = {"x third": line.ahead_of_new("x"), "y second": line.ahead_of_new("y"), "new": line.ahead_of_new("new")}
        release.set()
        await asyncio.gather(*tasks)
        return places

    # Waiting: x, x, y, z. Rounds: [x, y, z] then [x].
    assert asyncio.run(scenario()) == {"x third": 4, "y second": 4, "new": 3}


def test_closing_tells_the_waiting_and_a_cancelled_waiter_wedges_nothing() -> None:
    async def scenario() -> tuple[BaseException | None, list[str]]:
        line = FairLine(capacity=1)
        release = asyncio.Event()
        served: list[str] = []
        ask = holding_asker(line, release, served)

        holder = asyncio.create_task(ask("a"))
        gave_up = asyncio.create_task(ask("b"))
        waiting = asyncio.create_task(ask("c"))
        await asyncio.sleep(0)
        gave_up.cancel()
        await asyncio.sleep(0)
        assert line.waiting == 1, "the cancelled question left the line"
        release.set()
        await holder
        await waiting
        assert served == ["a", "c"]

        release.clear()
        holder = asyncio.create_task(ask("d"))
        told = asyncio.create_task(ask("e"))
        await asyncio.sleep(0)
        assert line.close() == 1
        outcome = (await asyncio.gather(told, return_exceptions=True))[0]
        release.set()
        await holder
        with pytest.raises(ShuttingDownError):
            await ask("f")
        return outcome if isinstance(outcome, BaseException) else None, served

    told, served = asyncio.run(scenario())
    assert isinstance(told, ShuttingDownError) and "ask again" in str(told)
    assert served == ["a", "c", "d"]


def test_a_waiter_cancelled_just_before_its_turn_is_skipped_not_granted() -> None:
    """Cancelling a task cancels its future at once, but the task leaves the line only when it
    next runs: a turn handed out in between must go to the next question, not fail."""

    async def scenario() -> list[str]:
        line = FairLine(capacity=1)
        release = asyncio.Event()
        served: list[str] = []
        ask = holding_asker(line, release, served)

        holder = asyncio.create_task(ask("a"))
        await asyncio.sleep(0)
        doomed = asyncio.create_task(ask("b"))
        waiting = asyncio.create_task(ask("c"))
        await asyncio.sleep(0)
        doomed.cancel()
        release.set()  # "a" ends and hands its turn on while "b" is cancelled but has not run yet
        await asyncio.gather(holder, waiting, doomed, return_exceptions=True)
        return served

    assert asyncio.run(scenario()) == ["a", "c"]
