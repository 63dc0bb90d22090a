"""Driving the Slack adapter with many mentions at once, and reading what each thread shows."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from bot.app import MentorApp
from tests.adapters.fake_slack import BOT_USER, event_body, signed_headers
from tests.adapters.test_slack import SECRET, Slack, mention, run_slack

QUESTIONS = ["what does break do in a loop?", "how do I make an empty set?", "what is the difference between a list and a tuple?"]


async def send_mentions(slack: Slack, mentions: list[tuple[str, str]], retry: int | None = None) -> list[int]:
    """Every (student, thread ts) mention signed and posted at once (`retry`: as Slack's redelivery
    number N); returns the HTTP statuses."""

    async def post(http: aiohttp.ClientSession, n: int, student: str, ts: str) -> int:
        text = f"<@{BOT_USER}> {QUESTIONS[n % len(QUESTIONS)]}"
        body = json.dumps(event_body(mention(text, ts, user=student), f"Ev{ts}"))
        async with http.post(slack.events_url, data=body, headers=signed_headers(SECRET, body, retry=retry)) as response:
            return response.status

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        return list(await asyncio.gather(*(post(http, n, student, ts) for n, (student, ts) in enumerate(mentions))))


def replies_by_thread(slack: Slack) -> dict[str, list[str]]:
    """What each thread shows now: the text of every message the bot left in it."""
    threads: dict[str, list[str]] = {}
    for message in slack.fake.messages.values():
        threads.setdefault(str(message["thread_ts"]), []).append(str(message["text"]))
    return threads


def is_answer(text: str) -> bool:
    return not text.startswith((":hourglass_flowing_sand:", ":warning:"))


def settled(slack: Slack) -> int:
    """Threads whose every message is final: an answer or a one-line notice, no placeholder left."""
    return sum(all(not t.startswith(":hourglass_flowing_sand:") for t in texts) for texts in replies_by_thread(slack).values())


def run_with(mentor: MentorApp, scenario: Any, slack: dict[str, Any] | None = None, **answer: Any) -> None:
    """`run_slack` in HTTP mode with these answer settings for the service (the line and the limits read them)."""
    kept = mentor.settings
    mentor.settings = kept.model_copy(update={"answer": kept.answer.model_copy(update=answer)})
    try:
        run_slack(mentor, scenario, mode="http", **(slack or {}))
    finally:
        mentor.settings = kept
