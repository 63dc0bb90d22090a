"""The one way blocking work (models, Milvus, file parsing) leaves the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from bot.errors import BusyError

T = TypeVar("T")


class Offloader:
    """A bounded thread pool with a bounded queue in front of it.

    Work beyond `workers + queue_size` at once is turned away with `BusyError` rather
    than piling up behind a slow model, so a burst of questions gets a quick "try again"
    instead of answers that arrive minutes late.
    """

    def __init__(self, workers: int, queue_size: int) -> None:
        self.workers = workers
        self.queue_size = queue_size
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mentor-work")
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """Calls running or waiting now."""
        return self._admitted

    async def run(self, fn: Callable[..., T], /, *args: object) -> T:
        # The counter is only touched on the event loop's thread, so it needs no lock.
        if self._admitted >= self.workers + self.queue_size:
            raise BusyError(f"{self._admitted} requests are already waiting: try again in a minute.")
        self._admitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args))
        finally:
            self._admitted -= 1

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
