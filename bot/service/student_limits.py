"""How often one student may ask: a moving window per student, told kindly once, then quietly.

Counted with the `limits` library, in this process's memory, or in the Redis the Slack
replicas already share for dedupe, so a student cannot get round the limit by landing on
another replica. A Redis that is down fails open: a student answered past their limit
beats a class refused because the counter is unreachable.
"""

from __future__ import annotations

import logging
import math
import time

from cachetools import TTLCache
from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from bot.errors import RateLimitedError

log = logging.getLogger(__name__)

TOLD_MAX = 100_000
"""Students remembered as told, per window: bounds the memory a flood of new names can take."""
WARN_EVERY_S = 60.0
REDIS_TIMEOUT_S = 0.5
"""A Redis slower than this counts as down: admission must not hang a student's question on it."""


class StudentLimits:
    """`await limits.check(student)` raises `RateLimitedError` past `per_minute` questions in a minute.

    The first refusal in a window says so and when to ask again; the rest of that window's
    are `quiet`, so a flood from one student is not answered by a flood of refusals.
    """

    def __init__(self, per_minute: int, redis_url: str | None = None) -> None:
        self.per_minute = per_minute
        self._item = RateLimitItemPerMinute(max(1, per_minute))
        storage: Storage = (
            RedisStorage(
                redis_url, implementation="redispy", wrap_exceptions=True, key_prefix="mentor:rate",
                socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S,
            )
            if redis_url
            else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._told: TTLCache[str, bool] = TTLCache(maxsize=TOLD_MAX, ttl=self._item.get_expiry())
        self._warned_at = -math.inf

    async def check(self, student: str) -> None:
        if self.per_minute <= 0:
            return
        try:
            if await self._limiter.hit(self._item, student):
                return
            stats = await self._limiter.get_window_stats(self._item, student)
        except StorageError as exc:
            self._warn(exc)
            return
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        quiet = student in self._told
        self._told[student] = True
        raise RateLimitedError(
            f"You've asked {self.per_minute} questions in the last minute, which is as many as I take from one person. "
            f"Your earlier questions are still being answered; please ask again in about {_duration(wait)}.",
            quiet=quiet,
        )

    def _warn(self, exc: Exception) -> None:
        if time.monotonic() - self._warned_at >= WARN_EVERY_S:
            self._warned_at = time.monotonic()
            log.warning("the per-student rate limit cannot be counted (%s): questions are let through until it can", exc)


def _duration(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 90 else f"{round(seconds / 60)} minutes"
