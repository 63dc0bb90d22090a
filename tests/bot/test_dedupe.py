"""Both event dedupe stores, the Redis one against a real `redis-server` on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

import pytest

from bot.errors import ConfigError
from bot.service.dedupe import EventDeduper, MemoryDeduper, RedisDeduper, build_deduper
from tests.conftest import free_port, start_redis, stop_redis

MakeDeduper = Callable[[float], EventDeduper]


@pytest.fixture(params=["memory", "redis"])
def make_deduper(request: pytest.FixtureRequest) -> MakeDeduper:
    """Builds either store; each Redis one gets its own key prefix, so tests share the server safely."""
    if request.param == "memory":
        return lambda ttl: MemoryDeduper(ttl_seconds=ttl)
    url = request.getfixturevalue("redis_url")
    prefix = f"test:{uuid.uuid4().hex}:"
    return lambda ttl: RedisDeduper(url, ttl_seconds=ttl, key_prefix=prefix)


# The contract every store keeps.


def test_a_key_is_new_once_then_a_repeat(make_deduper: MakeDeduper) -> None:
    async def scenario() -> list[bool]:
        deduper = make_deduper(60)
        try:
            return [await deduper.first_time("slack:Ev1"), await deduper.first_time("slack:Ev1"), await deduper.first_time("slack:Ev1")]
        finally:
            await deduper.close()

    assert asyncio.run(scenario()) == [True, False, False]


def test_different_keys_are_independent(make_deduper: MakeDeduper) -> None:
    async def scenario() -> list[bool]:
        deduper = make_deduper(60)
        try:
            return [await deduper.first_time(key) for key in ("slack:Ev1", "slack:Ev2", "discord:42", "slack:Ev1")]
        finally:
            await deduper.close()

    assert asyncio.run(scenario()) == [True, True, True, False]


def test_a_key_is_new_again_after_the_ttl(make_deduper: MakeDeduper) -> None:
    async def scenario() -> list[bool]:
        deduper = make_deduper(0.5)
        try:
            seen = [await deduper.first_time("slack:Ev1"), await deduper.first_time("slack:Ev1")]
            await asyncio.sleep(0.7)
            return seen + [await deduper.first_time("slack:Ev1"), await deduper.first_time("slack:Ev1")]
        finally:
            await deduper.close()

    assert asyncio.run(scenario()) == [True, False, True, False]


def test_a_working_store_reports_no_problem(make_deduper: MakeDeduper) -> None:
    async def scenario() -> str | None:
        deduper = make_deduper(60)
        try:
            return await deduper.check()
        finally:
            await deduper.close()

    assert asyncio.run(scenario()) is None


# The memory store.


def test_memory_forgets_the_oldest_key_beyond_its_size() -> None:
    async def scenario() -> list[bool]:
        deduper = MemoryDeduper(max_size=3, ttl_seconds=60)
        for key in ("a", "b", "c", "d"):
            await deduper.first_time(key)
        return [await deduper.first_time("d"), await deduper.first_time("c"), await deduper.first_time("a")]

    assert asyncio.run(scenario()) == [False, False, True]


# The Redis store, shared by replicas.


def test_a_key_one_replica_saw_is_a_repeat_for_another(redis_url: str) -> None:
    async def scenario() -> list[bool]:
        first, second = RedisDeduper(redis_url, 60, "test:replicas:"), RedisDeduper(redis_url, 60, "test:replicas:")
        try:
            return [await first.first_time("slack:Ev1"), await second.first_time("slack:Ev1"), await second.first_time("slack:Ev2")]
        finally:
            await first.close()
            await second.close()

    assert asyncio.run(scenario()) == [True, False, True]


def test_concurrent_deliveries_to_two_replicas_are_answered_once(redis_url: str) -> None:
    async def scenario() -> list[bool]:
        replicas = [RedisDeduper(redis_url, 60, "test:race:") for _ in range(2)]
        try:
            return await asyncio.gather(*(replicas[i % 2].first_time("slack:Ev1") for i in range(50)))
        finally:
            for replica in replicas:
                await replica.close()

    assert sorted(asyncio.run(scenario())) == [False] * 49 + [True]


def test_a_down_redis_fails_open_warns_once_and_recovers(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    acl = ("--user", "default", "off", "--user", "user", "on", ">s3cret", "~*", "+@all")

    async def while_down(deduper: RedisDeduper) -> tuple[list[bool], str | None]:
        answers = [await deduper.first_time(f"slack:Ev{i}") for i in range(20)]
        return answers, await deduper.check()

    async def while_up(deduper: RedisDeduper) -> tuple[list[bool], str | None]:
        return [await deduper.first_time("slack:Ev1"), await deduper.first_time("slack:Ev1")], await deduper.check()

    async def scenario() -> None:
        deduper = RedisDeduper(f"redis://user:s3cret@127.0.0.1:{port}/0", 60)
        try:
            answers, problem = await while_down(deduper)
            assert answers == [True] * 20
            assert problem is not None and f"redis://user:***@127.0.0.1:{port}/0 is unreachable" in problem
            assert "s3cret" not in problem

            server = start_redis(port, *acl)
            try:
                assert await while_up(deduper) == ([True, False], None)
            finally:
                stop_redis(server)

            # Its pooled connections are dead now: down again, then a fresh server on the port.
            assert (await while_down(deduper))[0] == [True] * 20
            server = start_redis(port, *acl)
            try:
                assert await while_up(deduper) == ([True, False], None)
            finally:
                stop_redis(server)
        finally:
            await deduper.close()

    with caplog.at_level(logging.INFO, logger="bot.service.dedupe"):
        asyncio.run(scenario())

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    recoveries = [r for r in caplog.records if r.levelno == logging.INFO and "answers again" in r.getMessage()]
    assert len(warnings) == 1, "one warning a minute, not one per event"
    assert "MENTOR_DEDUPE__REDIS_URL" in warnings[0].getMessage()
    assert len(recoveries) == 1, "the second outage fell in the same minute, so it was not logged, nor its end"
    assert caplog.records and not any("s3cret" in r.getMessage() for r in caplog.records)


def test_a_wrong_password_is_reported_without_it() -> None:
    port = free_port()

    async def scenario() -> tuple[bool, str | None]:
        deduper = RedisDeduper(f"redis://:wr0ng@127.0.0.1:{port}/0", 60)
        try:
            return await deduper.first_time("slack:Ev1"), await deduper.check()
        finally:
            await deduper.close()

    server = start_redis(port, "--requirepass", "right")
    try:
        answered, problem = asyncio.run(scenario())
    finally:
        stop_redis(server)
    assert answered is True
    assert problem is not None and f"redis://:***@127.0.0.1:{port}/0 refuses the credentials" in problem and "wr0ng" not in problem


# Building from the settings.


def test_build_gives_the_configured_store() -> None:
    async def scenario() -> tuple[EventDeduper, EventDeduper]:
        memory = build_deduper("memory", None, 60)
        shared = build_deduper("redis", "rediss://:pw@redis.example:6380/1", 60)
        await memory.close()
        await shared.close()  # Never connected: building is cheap.
        return memory, shared

    memory, shared = asyncio.run(scenario())
    assert isinstance(memory, MemoryDeduper) and isinstance(shared, RedisDeduper)


def test_build_refuses_redis_without_a_url() -> None:
    with pytest.raises(ConfigError, match="MENTOR_DEDUPE__REDIS_URL"):
        build_deduper("redis", None, 60)


@pytest.mark.parametrize("url", ["http://user:s3cret@redis.example:6379/0", "redis.example:6379", "redis://user:s3cret@redis.example:port/0"])
def test_build_refuses_a_url_redis_cannot_use_without_echoing_the_password(url: str) -> None:
    with pytest.raises(ConfigError, match="MENTOR_DEDUPE__REDIS_URL") as raised:
        build_deduper("redis", url, 60)
    assert "s3cret" not in str(raised.value)


def test_a_restarted_redis_still_knows_the_events_it_kept_on_disk(tmp_path) -> None:
    """After a restart, the connections pooled before it are dead: the first command on each fails.
    That must not read as "Redis down, answer anyway": the deduper tries once more on a fresh one."""
    port = free_port()
    persistent = ("--appendonly", "yes", "--appendfsync", "always", "--dir", str(tmp_path))

    async def scenario() -> list[bool]:
        server = start_redis(port, *persistent)
        deduper = RedisDeduper(f"redis://127.0.0.1:{port}/0")
        try:
            # Several at once, so the pool holds several connections when Redis goes away.
            seen = await asyncio.gather(*(deduper.first_time(f"slack:Ev{n}") for n in range(8)))
            stop_redis(server)
            server = start_redis(port, *persistent)
            return list(seen) + list(await asyncio.gather(*(deduper.first_time(f"slack:Ev{n}") for n in range(8))))
        finally:
            await deduper.close()
            stop_redis(server)

    assert asyncio.run(scenario()) == [True] * 8 + [False] * 8
