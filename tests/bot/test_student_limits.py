"""The per-student rate, counted by the `limits` library in memory or in a real Redis shared by replicas."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.errors import RateLimitedError
from bot.service.student_limits import StudentLimits
from tests.conftest import free_port


async def outcomes(limits: StudentLimits, student: str, times: int) -> list[str]:
    """For each try: `ok`, `told` (the refusal the student reads) or `quiet` (only logged)."""
    seen: list[str] = []
    for _ in range(times):
        try:
            await limits.check(student)
            seen.append("ok")
        except RateLimitedError as exc:
            seen.append("quiet" if exc.quiet else "told")
            if not exc.quiet:
                assert "3 questions in the last minute" in str(exc) and "ask again in about" in str(exc)
    return seen


def test_past_the_rate_a_student_is_told_once_and_others_are_not_affected() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        limits = StudentLimits(per_minute=3)
        return await outcomes(limits, "slack:U1", 6), await outcomes(limits, "slack:U2", 3)

    flooder, other = asyncio.run(scenario())
    assert flooder == ["ok", "ok", "ok", "told", "quiet", "quiet"]
    assert other == ["ok", "ok", "ok"]


def test_zero_means_no_limit() -> None:
    assert asyncio.run(outcomes(StudentLimits(per_minute=0), "web:w", 50)) == ["ok"] * 50


def test_replicas_sharing_redis_count_a_student_once(redis_url: str) -> None:
    async def scenario() -> list[str]:
        first, second = StudentLimits(3, redis_url), StudentLimits(3, redis_url)
        return (await outcomes(first, "slack:UREPLICA", 2)) + (await outcomes(second, "slack:UREPLICA", 2))

    assert asyncio.run(scenario()) == ["ok", "ok", "ok", "told"]


def test_an_unreachable_redis_lets_questions_through_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with caplog.at_level(logging.WARNING, logger="bot.service.student_limits"):
        seen = asyncio.run(outcomes(StudentLimits(3, closed), "slack:U1", 5))
    assert seen == ["ok"] * 5, "a counter that cannot be reached never refuses a student"
    warnings = [record for record in caplog.records if "rate limit cannot be counted" in record.getMessage()]
    assert len(warnings) == 1
