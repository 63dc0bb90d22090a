"""Several bot replicas behind a load balancer (Slack HTTP mode): a retried event that lands on
another replica is still answered once, because the replicas share a Redis dedupe store."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import aiohttp
import pytest

from adapters.slack import SlackPlatform, create_platform
from bot.app import MentorApp
from bot.config.sections import SlackSettings
from bot.service.commands import ChatCommands
from bot.service.dedupe import MemoryDeduper, RedisDeduper
from tests.adapters.fake_slack import BOT_USER, FakeSlack, event_body, signed_headers
from tests.adapters.test_slack import answers_in, mention
from tests.conftest import example_course_app, free_port

SECRET = "replica-signing-secret"


@pytest.fixture(scope="module")
def mentor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MentorApp]:
    app = example_course_app(tmp_path_factory.mktemp("replicas"))
    yield app
    app.close()


async def deliver_to_each_replica(mentor: MentorApp, dedupers: list[MemoryDeduper | RedisDeduper]) -> int:
    """One event, delivered first to replica 0 and then, as Slack's retries, to the others; how many answers?"""
    fake = FakeSlack()
    await fake.start()
    replicas: list[tuple[SlackPlatform, SlackSettings]] = []
    try:
        for deduper in dedupers:
            settings = SlackSettings(bot_token="xoxb-test", signing_secret=SECRET, api_url=fake.api_url, mode="http", port=free_port())
            platform = create_platform(mentor.settings.model_copy(update={"slack": settings}), ChatCommands(mentor, deduper=deduper))
            assert isinstance(platform, SlackPlatform)
            await platform.start()
            replicas.append((platform, settings))
        body = json.dumps(event_body(mention(f"<@{BOT_USER}> what does break do in a loop?", "1700000500.000100"), f"Ev{uuid.uuid4().hex[:8]}"))
        async with aiohttp.ClientSession() as http:
            for attempt, (_, settings) in enumerate(replicas):
                url = f"http://127.0.0.1:{settings.port}{settings.path}"
                async with http.post(url, data=body, headers=signed_headers(SECRET, body, retry=attempt or None)) as response:
                    assert response.status == 200
        await fake.wait_for(lambda: answers_in(fake, "CGENERAL"), timeout=60)
        await asyncio.sleep(1.0)  # time for a duplicate to be posted, if one were coming
        return len(fake.of("chat.postMessage"))
    finally:
        for platform, _ in replicas:
            await platform.stop()
        for deduper in dedupers:
            await deduper.close()
        await fake.stop()


def test_a_retry_on_another_replica_is_answered_once_with_a_shared_redis_store(mentor: MentorApp, redis_url: str) -> None:
    prefix = f"replicas:{uuid.uuid4().hex}:"
    shared = [RedisDeduper(redis_url, key_prefix=prefix) for _ in range(3)]
    assert asyncio.run(deliver_to_each_replica(mentor, shared)) == 1


def test_without_a_shared_store_each_replica_would_answer_again(mentor: MentorApp) -> None:
    """The baseline that makes the shared store necessary: per-replica memory answers twice."""
    assert asyncio.run(deliver_to_each_replica(mentor, [MemoryDeduper(), MemoryDeduper()])) == 2
