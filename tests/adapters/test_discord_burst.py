"""A class at once through Discord: real discord.py against the fake gateway and REST API, a real
MentorApp over the example course, and the fake LLM server streaming 4 answers at once."""

from __future__ import annotations

import asyncio

from bench.fake_llm import FakeLLM
from bot.app import MentorApp
from tests.adapters.fake_discord import STUDENT, FakeDiscord, mention
from tests.adapters.test_discord import answers_in, connected

QUESTIONS = ["what does break do in a loop?", "how do I make an empty set?", "what is the difference between a list and a tuple?"]
PLACE = "Got your question."


async def mention_all(fake: FakeDiscord, count: int, first_student: int) -> list[dict]:
    """`count` students each mention the bot once, dispatched back to back; returns the messages."""
    questions = [mention(QUESTIONS[n % len(QUESTIONS)], author_id=first_student + n) for n in range(count)]
    for question in questions:
        await fake.dispatch("MESSAGE_CREATE", question)
    return questions


def answered(fake: FakeDiscord, threads: list[int]) -> int:
    """Threads holding an answer (not only the place-in-line message)."""
    return sum(any(PLACE not in m["content"] for m in answers_in(fake, t)) for t in threads)


def test_a_burst_of_mentions_each_gets_its_thread_and_exactly_one_answer(llm_mentor: MentorApp) -> None:
    count = 60

    async def scenario() -> tuple[FakeDiscord, list[int]]:
        async with connected(llm_mentor) as (fake, _):
            questions = await mention_all(fake, count, STUDENT + 1)
            threads = [int(question["id"]) for question in questions]
            await fake.wait_for(lambda: answered(fake, threads) == count, timeout=240)
            await asyncio.sleep(0.3)
            return fake, threads

    fake, threads = asyncio.run(scenario())
    places = 0
    for thread in threads:
        messages = [m["content"] for m in answers_in(fake, thread)]
        answers = [content for content in messages if PLACE not in content]
        assert len(answers) == 1, f"thread {thread}: {messages}"
        assert "break" in answers[0] or "set" in answers[0] or "tuple" in answers[0]
        places += len(messages) - 1
    assert places >= 1, "students waiting in the burst were told their place in line"


def test_the_gateway_reconnecting_mid_burst_replays_events_that_are_answered_once(llm_mentor: MentorApp, llm: FakeLLM) -> None:
    count = 24

    async def scenario() -> tuple[FakeDiscord, list[int]]:
        async with connected(llm_mentor) as (fake, _):
            questions = await mention_all(fake, count, STUDENT + 500)
            served = llm.requests
            await fake.wait_for(lambda: llm.requests >= served + 2, timeout=60)
            fake.replay = [("MESSAGE_CREATE", question) for question in questions[: count // 2]]
            await fake.reconnect()  # while answers are being written
            await fake.wait_for(lambda: fake.resumes == 1)
            threads = [int(question["id"]) for question in questions]
            await fake.wait_for(lambda: answered(fake, threads) == count, timeout=240)
            await asyncio.sleep(1.0)
            return fake, threads

    fake, threads = asyncio.run(scenario())
    assert fake.identifies == 1, "the client resumed its session"
    for thread in threads:
        answers = [m["content"] for m in answers_in(fake, thread) if PLACE not in m["content"]]
        assert len(answers) == 1, f"thread {thread}: answered once though its event came twice: {answers}"
