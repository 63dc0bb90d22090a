"""The asynchronous face of answering, for the chat adapters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.app import MentorApp
from bot.service.offload import Offloader
from models import Answer, Question

PartialCallback = Callable[[str], None]
"""Called on the event loop with the answer's text so far (markers renumbered), as the model writes it."""
AfterAnswer = Callable[[Question, Answer], Answer]
"""Runs on the worker thread right after the answer is written (recording it, say), off the loop."""


class AnswerService:
    """`await answer(question)`: retrieval and generation run on the offloader's threads.

    The model bounds its own parallelism (one generation at a time for in-process
    llama.cpp, the server's slots for an HTTP server); the offloader bounds the queue.
    The event loop only ever waits on a future.
    """

    def __init__(self, mentor: MentorApp, offloader: Offloader) -> None:
        self.mentor = mentor
        self.offloader = offloader

    async def answer(
        self, question: Question, on_partial: PartialCallback | None = None, after: AfterAnswer | None = None
    ) -> Answer:
        loop = asyncio.get_running_loop()

        def on_text(text: str) -> None:
            loop.call_soon_threadsafe(on_partial, text)  # type: ignore[arg-type]

        def work() -> Answer:
            answer = self.mentor.ask(question, on_text if on_partial is not None else None)
            return after(question, answer) if after is not None else answer

        return await self.offloader.run(work)
