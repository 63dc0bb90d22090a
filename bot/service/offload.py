"""The one way blocking work (models, Milvus, file parsing) leaves the event loop.

Two lanes, so students never wait behind a reindex: `run` for answers and other short
work, `run_reindex` for reindexes, which take minutes and get a worker of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from bot.errors import BusyError

T = TypeVar("T")

WORK_BUSY = "{admitted} requests are already waiting: try again in a minute."
REINDEX_BUSY = "{admitted} reindexes are already running or waiting: try again in a few minutes."


class Lane:
    """A bounded thread pool with a bounded queue in front of it.

    Work beyond `workers + queue_size` at once is turned away with `BusyError` rather
    than piling up behind a slow model, so a burst of questions gets a quick "try again"
    instead of answers that arrive minutes late.
    """

    def __init__(self, name: str, workers: int, queue_size: int, busy: str) -> None:
        self.workers = workers
        self.queue_size = queue_size
        self._busy = busy
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """Calls running or waiting now."""
        return self._admitted

    async def run(self, fn: Callable[..., T], /, *args: object) -> T:
        # The counter is only touched on the event loop's thread, so it needs no lock.
        if self._admitted >= self.workers + self.queue_size:
            raise BusyError(self._busy.format(admitted=self._admitted))
        self._admitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args))
        finally:
            self._admitted -= 1

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


class Offloader:
    """The answers' lane (`workers`, `queue_size`) and the reindexes' lane: one run at a
    time across courses, `reindex_queue_size` more waiting."""

    def __init__(self, workers: int, queue_size: int, reindex_queue_size: int = 4) -> None:
        self.work = Lane("mentor-work", workers, queue_size, WORK_BUSY)
        self.reindexes = Lane("mentor-reindex", 1, reindex_queue_size, REINDEX_BUSY)

    @property
    def admitted(self) -> int:
        """Answers and other short work running or waiting now (reindexes not counted)."""
        return self.work.admitted

    async def run(self, fn: Callable[..., T], /, *args: object) -> T:
        """Answers and short work (status, votes, health pings)."""
        return await self.work.run(fn, *args)

    async def run_reindex(self, fn: Callable[..., T], /, *args: object) -> T:
        """A reindex: minutes of embedding and writing, on its own worker."""
        return await self.reindexes.run(fn, *args)

    def shutdown(self, wait: bool = True) -> None:
        self.work.shutdown(wait)
        self.reindexes.shutdown(wait)
