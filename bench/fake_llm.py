"""A stand-in for a production LLM server: OpenAI's streaming chat API on 127.0.0.1, with faults.

It streams a fixed answer (citing `[1]`) over `answer_seconds`, serves at most `slots`
requests at once like `llama_cpp.server --parallel` (the rest wait their turn), and can be
made slow, return garbage mid-stream, or go down and come back, for the load benchmark and
the fault tests. It runs on a thread and loop of its own, so a busy service under test
never slows it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from typing import Literal

from aiohttp import web

from rag.llm import ChatMessage, Generation, GenerationSettings, TokenCallback

ANSWER = (
    "Use `break` inside the loop: it stops the loop at once and goes on after it [1]. "
    "To skip only the rest of one round, use `continue` instead [1]."
)
Fault = Literal["none", "slow", "garbage"]


class FakeLLM:
    """`base_url` ends in `/v1`; `requests` counts the completions asked for, `served` those streamed to the end,
    `prompts` keeps each request's messages; `answer` is what it streams."""

    def __init__(self, answer_seconds: float = 0.5, slots: int = 4, tokens: int = 20) -> None:
        self.answer_seconds = answer_seconds
        self.slots = slots
        self.tokens = tokens
        self.fault: Fault = "none"
        self.answer = ANSWER
        self.prompts: list[list[dict]] = []
        self.slow_seconds = 30.0
        self.requests = 0
        self.served = 0
        self.port = _free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-llm", daemon=True)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._busy: asyncio.Semaphore | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeLLM:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def go_down(self) -> None:
        """Stop listening: connections are refused, as when the server process died."""
        asyncio.run_coroutine_threadsafe(self._close_site(), self._loop).result(timeout=10)

    def come_back(self) -> None:
        asyncio.run_coroutine_threadsafe(self._open_site(), self._loop).result(timeout=10)

    async def _start(self) -> None:
        self._busy = asyncio.Semaphore(self.slots)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await self._open_site()

    async def _open_site(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()

    async def _close_site(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests += 1
        self.prompts.append(body.get("messages", []))
        assert self._busy is not None
        async with self._busy:
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            words = self.answer.split(" ")
            per_piece = (self.slow_seconds if self.fault == "slow" else self.answer_seconds) / self.tokens
            pieces = _pieces(words, self.tokens)
            for n, piece in enumerate(pieces):
                await asyncio.sleep(per_piece)
                if self.fault == "garbage" and n == len(pieces) // 2:
                    await response.write(b"data: {not json\n\n")
                    return response
                chunk = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}], "model": body.get("model")}
                await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            await response.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
            self.served += 1
            return response


def _pieces(words: list[str], count: int) -> list[str]:
    """The answer cut into `count` consecutive pieces, spaces kept, as tokens stream."""
    size = max(1, -(-len(words) // count))
    return [" ".join(words[i : i + size]) + " " for i in range(0, len(words), size)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class CitingModel:
    """An in-process stand-in for a model that cites: whatever it is asked, it answers citing `[cite]`.

    For benchmarks only (`bench.quote_mode`): it shows what reaches a student's sources
    when a model cites one passage, right or wrong, through the real answer path.
    """

    context_window = 4096
    max_concurrency = 1
    supports_system_role = True

    def __init__(self, cite: int = 1) -> None:
        self.cite = cite
        self.name = f"fake model citing [{cite}]"

    def count_tokens(self, text: str) -> int:
        return len(text.split()) * 2  # generous, so a prompt it accepts fits a real model too

    def generate(self, messages: list[ChatMessage], settings: GenerationSettings, on_token: TokenCallback | None = None) -> Generation:
        text = f"The course materials answer this in the passage cited [{self.cite}]."
        if on_token is not None:
            on_token(text)
        return Generation(text=text, completion_tokens=len(text.split()), first_token_s=0.0, seconds=0.0)
