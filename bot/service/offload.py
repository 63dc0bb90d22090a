"""The one way blocking work (models, Milvus, file parsing) leaves the event loop.

Four lanes, so nothing waits behind work of another kind: `retrieve` (search, grounding,
quotes) and `generate` (the model writing) for answers, each with the concurrency it
needs; `run` for short work (status, votes, health pings); `run_reindex` for reindexes,
which take minutes and get a worker of their own. Which answer goes next is decided
before work reaches a lane (`fair_line`); a lane only runs it.
Stopping is bounded and in order: `drain` lets admitted work finish (telling the callers
of what cannot), `shutdown` waits for the threads, and only then may the index close.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.errors import BusyError, ShuttingDownError

T = TypeVar("T")

WORK_BUSY = "{admitted} requests are already waiting: try again in a minute."
REINDEX_BUSY = "{admitted} reindexes are already running or waiting: try again in a few minutes."
STOPPING = "The service is stopping: work not finished within the grace is given up; ask again in a minute."


class Lane:
    """A bounded thread pool with a bounded queue in front of it.

    Work beyond `workers + queue_size` at once is turned away with `BusyError` rather
    than piling up behind a slow model, so a burst of questions gets a quick "try again"
    instead of answers that arrive minutes late. Work once admitted runs to its end even
    when its caller stops waiting (a closed page, a stopping server): only `give_up` at
    shutdown drops work that has not started.
    """

    def __init__(self, name: str, workers: int, queue_size: int, busy: str) -> None:
        self.workers = workers
        self.queue_size = queue_size
        self._busy = busy
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._admitted = 0
        self._waiting: dict[asyncio.Future[Any], Future[Any]] = {}
        """Callers awaiting their work, on the event loop, and the work each waits for."""
        self._threads: set[Future[Any]] = set()
        """Work submitted and not ended, whether or not anyone still waits for it."""
        self._threads_lock = threading.Lock()
        self._closed = False
        self._gave_up = False

    @property
    def admitted(self) -> int:
        """Calls running or waiting now."""
        return self._admitted

    async def run(self, fn: Callable[..., T], /, *args: object) -> T:
        # The counter and `_waiting` are only touched on the event loop's thread: no lock.
        if self._closed:
            raise ShuttingDownError(STOPPING)
        if self._admitted >= self.workers + self.queue_size:
            raise BusyError(self._busy.format(admitted=self._admitted))
        self._admitted += 1
        try:
            work = self._submit(fn, *args)
        except RuntimeError:  # `shutdown` (from another thread) stopped the pool just now
            self._admitted -= 1
            raise ShuttingDownError(STOPPING) from None
        waiting = _waiter(work)
        self._waiting[waiting] = work
        try:
            return await waiting
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._gave_up and waiting.cancelled() and (task is None or not task.cancelling()):
                raise ShuttingDownError(STOPPING) from None
            raise
        finally:
            self._waiting.pop(waiting, None)
            self._admitted -= 1

    def _submit(self, fn: Callable[..., T], *args: object) -> Future[T]:
        future = self._pool.submit(fn, *args)
        with self._threads_lock:
            self._threads.add(future)
        future.add_done_callback(self._ended)
        return future

    def _ended(self, future: Future[Any]) -> None:
        with self._threads_lock:
            self._threads.discard(future)

    def close(self) -> set[asyncio.Future[Any]]:
        """Take no more work; returns the callers still waiting."""
        self._closed = True
        return set(self._waiting)

    def give_up(self) -> int:
        """Callers still waiting get `ShuttingDownError` (work not started never starts); returns how many."""
        self._gave_up = True
        late = [(waiting, work) for waiting, work in self._waiting.items() if not waiting.done()]
        for waiting, work in late:
            work.cancel()
            waiting.cancel()
        return len(late)

    def shutdown(self, deadline: float | None = None) -> int:
        """Wait for the work submitted (until `deadline`, a `time.monotonic()`), then stop; returns how many still run."""
        self._closed = True
        with self._threads_lock:
            submitted = set(self._threads)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        _, late = wait(submitted, timeout=timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        return len(late)


def _waiter(work: Future[T]) -> asyncio.Future[T]:
    """An event-loop future that follows `work` but, unlike `asyncio.wrap_future`, does not cancel
    it when the caller stops waiting: work admitted is not dropped because a page closed."""
    loop = asyncio.get_running_loop()
    waiting: asyncio.Future[T] = loop.create_future()

    def settle(done: Future[T]) -> None:
        if waiting.done():
            return
        if done.cancelled():
            waiting.cancel()
        elif (error := done.exception()) is not None:
            waiting.set_exception(error)
        else:
            waiting.set_result(done.result())

    def forward(done: Future[T]) -> None:  # on the worker's thread
        try:
            loop.call_soon_threadsafe(settle, done)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    work.add_done_callback(forward)
    return waiting


@dataclass(frozen=True)
class Unfinished:
    """What `drain` gave up on; its askers were told to ask again."""

    answers: int
    reindexes: int

    def __bool__(self) -> bool:
        return bool(self.answers or self.reindexes)

    def __str__(self) -> str:
        counted = ((self.answers, "answer", "answers"), (self.reindexes, "reindex", "reindexes"))
        return " and ".join(f"{n} {one if n == 1 else many}" for n, one, many in counted if n) or "nothing"


class Offloader:
    """The answers' two lanes, the short work's lane (`workers`, `queue_size`) and the reindexes'
    lane: one run at a time across courses, `reindex_queue_size` more waiting."""

    def __init__(
        self,
        workers: int,
        queue_size: int,
        reindex_queue_size: int = 4,
        *,
        retrieval_workers: int = 2,
        generation_workers: int = 1,
        max_waiting: int = 1000,
    ) -> None:
        """`generation_workers`: the generations the model really runs at once (its server's slots,
        1 in process); `max_waiting` only backs up the fair line, which admits no more than that."""
        self.work = Lane("mentor-work", workers, queue_size, WORK_BUSY)
        self.retrieval = Lane("mentor-retrieve", retrieval_workers, max_waiting, WORK_BUSY)
        self.generation = Lane("mentor-generate", generation_workers, max_waiting, WORK_BUSY)
        self.reindexes = Lane("mentor-reindex", 1, reindex_queue_size, REINDEX_BUSY)
        self._deadline: float | None = None

    @property
    def lanes(self) -> tuple[Lane, ...]:
        return (self.work, self.retrieval, self.generation, self.reindexes)

    @property
    def admitted(self) -> int:
        """Answers and other short work running or waiting now (reindexes not counted)."""
        return self.work.admitted + self.retrieval.admitted + self.generation.admitted

    async def run(self, fn: Callable[..., T], /, *args: object) -> T:
        """Short work: status, votes, health pings."""
        return await self.work.run(fn, *args)

    async def retrieve(self, fn: Callable[..., T], /, *args: object) -> T:
        """An answer's search and grounding check (and, in quote mode, the whole answer)."""
        return await self.retrieval.run(fn, *args)

    async def generate(self, fn: Callable[..., T], /, *args: object) -> T:
        """An answer the model writes."""
        return await self.generation.run(fn, *args)

    async def run_reindex(self, fn: Callable[..., T], /, *args: object) -> T:
        """A reindex: minutes of embedding and writing, on its own worker."""
        return await self.reindexes.run(fn, *args)

    async def drain(self, grace: float) -> Unfinished:
        """Take no more work (new callers get `ShuttingDownError`), give what was admitted up to
        `grace` seconds, then give up on the rest: its callers get `ShuttingDownError`, which the
        platforms show their askers. `shutdown` keeps to the same deadline."""
        self._deadline = time.monotonic() + grace
        waiting: set[asyncio.Future[Any]] = set()
        for lane in self.lanes:
            waiting |= lane.close()
        if waiting:
            await asyncio.wait(waiting, timeout=grace)
        answers = sum(lane.give_up() for lane in (self.work, self.retrieval, self.generation))
        return Unfinished(answers, self.reindexes.give_up())

    def shutdown(self, grace: float | None = None) -> int:
        """Wait for the threads still working, until the `drain` deadline (else `grace` seconds from
        now; None: however long), then stop every lane; returns how many were still running."""
        deadline = self._deadline or (None if grace is None else time.monotonic() + grace)
        return sum(lane.shutdown(deadline) for lane in self.lanes)
