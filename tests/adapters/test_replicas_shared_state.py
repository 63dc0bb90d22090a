"""Three Slack HTTP replicas behind a load balancer, sharing Redis (dedupe), PostgreSQL (state) and a
Milvus server (the index): whichever replica an event reaches, it sees what the others did."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from apscheduler.triggers.date import DateTrigger
from pydantic import SecretStr

from adapters.slack import SlackPlatform, create_platform
from bench.fake_llm import FakeLLM
from bot.app import MentorApp
from bot.config.sections import AnswerSettings, ScheduleSettings, SlackSettings
from bot.config.settings import LlmSettings, Settings
from bot.service.commands import ChatCommands
from bot.service.dedupe import RedisDeduper
from bot.service.schedule import ReindexScheduler
from bot.store.schedule_claims import ScheduleClaims
from models import Course
from tests.adapters.fake_slack import BOT_USER, FakeSlack, event_body, reaction, signed_headers
from tests.adapters.test_slack import answers_in, mention, slash
from tests.adapters.test_web_admin import bearer, served
from tests.conftest import EXAMPLE_COURSE, free_port, record_outcomes, until
from tests.postgres_server import PostgresServer

SECRET = "replica-signing-secret"
TOKEN = "admin-token"


@pytest.fixture(scope="module")
def shared_state(postgres_server: PostgresServer) -> str:
    return postgres_server.new_database()


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, shared_state: str, milvus_server: str, llm: FakeLLM
) -> Iterator[list[MentorApp]]:
    """Three MentorApps with data dirs of their own and everything else shared; the course is ingested once."""
    materials = tmp_path_factory.mktemp("materials") / "cs101"
    shutil.copytree(EXAMPLE_COURSE, materials)
    apps = []
    for number in range(3):
        settings = Settings(
            data_dir=tmp_path_factory.mktemp(f"replica{number}"),
            milvus_uri=milvus_server,
            database_url=SecretStr(shared_state),
            courses=[Course(name="cs101", sources=(materials,))],
            llm=LlmSettings(base_url=llm.base_url, model="fake", parallel=4, max_tokens=64),
            answer=AnswerSettings(mode="generate", repeat_similarity=0),
        )
        apps.append(MentorApp(settings))
    apps[0].ingest("cs101")
    yield apps
    apps[0].index.drop_course("cs101")
    for app in apps:
        app.close()


@dataclass
class Replica:
    mentor: MentorApp
    commands: ChatCommands
    settings: SlackSettings

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}{self.settings.path}"


@asynccontextmanager
async def behind_a_load_balancer(apps: list[MentorApp], redis_url: str) -> AsyncIterator[tuple[FakeSlack, list[Replica]]]:
    fake = FakeSlack()
    await fake.start()
    prefix = f"replicas:{uuid.uuid4().hex}:"
    async with AsyncExitStack() as stack:
        stack.push_async_callback(fake.stop)
        running = []
        for app in apps:
            deduper = RedisDeduper(redis_url, key_prefix=prefix)
            stack.push_async_callback(deduper.close)
            settings = SlackSettings(
                bot_token="xoxb-test", signing_secret=SECRET, api_url=fake.api_url, mode="http", port=free_port(), instructors=["UPROF"]
            )
            commands = ChatCommands(app, deduper=deduper)
            platform = create_platform(app.settings.model_copy(update={"slack": settings}), commands)
            assert isinstance(platform, SlackPlatform)
            await platform.start()
            stack.push_async_callback(platform.stop)
            running.append(Replica(app, commands, settings))
        yield fake, running


async def post_event(http: aiohttp.ClientSession, replica: Replica, event: dict[str, object]) -> None:
    body = json.dumps(event_body(event, f"Ev{uuid.uuid4().hex[:10]}"))
    async with http.post(replica.url, data=body, headers=signed_headers(SECRET, body)) as response:
        assert response.status == 200


async def post_slash(http: aiohttp.ClientSession, replica: Replica, fake: FakeSlack, text: str, user: str) -> str:
    body = urlencode(slash(fake, text, user=user))
    headers = signed_headers(SECRET, body) | {"Content-Type": "application/x-www-form-urlencoded"}
    async with http.post(replica.url, data=body, headers=headers) as response:
        assert response.status == 200
        return await response.text()


def test_a_vote_on_replica_b_counts_for_replica_a_answer_and_replica_c_lists_every_question(
    replicas: list[MentorApp], redis_url: str
) -> None:
    async def scenario() -> None:
        async with behind_a_load_balancer(replicas, redis_url) as (fake, (a, b, c)), aiohttp.ClientSession() as http:
            asked = {"1700000600.000100": "what does break do in a loop?", "1700000601.000100": "how do I make an empty set?"}
            answered = []
            for (ts, text), replica in zip(asked.items(), (a, b)):
                await post_event(http, replica, mention(f"<@{BOT_USER}> {text}", ts))
                answered = await fake.wait_for(lambda: len(answers_in(fake, "CGENERAL")) > len(answered) and answers_in(fake, "CGENERAL"))
            answer = answered[0]  # replica A's
            await until(lambda: len(fake.of("reactions.add")) == 4, timeout=30)

            await post_event(http, b, reaction("reaction_added", "+1", "CGENERAL", answer["ts"], user="UTA"))
            votes = await until(lambda: a.mentor.question_log.feedback("cs101"), timeout=30)
            assert [(v.user, v.vote, v.question.text) for v in votes] == [("UTA", 1, "what does break do in a loop?")]
            assert b.commands.metrics.exposition().decode().count('mentor_feedback_total{course="cs101",vote="up"} 1.0') == 1

            async with served(c.commands, TOKEN) as admin:
                async with http.get(f"{admin}/admin/api/questions", headers=bearer(TOKEN)) as response:
                    listed = await response.json()
                async with http.get(f"{admin}/admin/api/feedback", headers=bearer(TOKEN)) as response:
                    feedback = await response.json()
            assert set(asked.values()) <= {q["question"] for q in listed["questions"]}
            assert [f["user"] for f in feedback["feedback"]] == ["UTA"]

    asyncio.run(scenario())


def test_mentor_reindex_sent_to_two_replicas_at_once_runs_once(replicas: list[MentorApp], redis_url: str) -> None:
    (materials,) = replicas[0].course("cs101").sources
    before = len(replicas[2].run_history.runs("cs101", limit=100))

    async def scenario() -> list[str]:
        async with behind_a_load_balancer(replicas, redis_url) as (fake, (a, b, _)), aiohttp.ClientSession() as http:
            # A changed file, so the run takes long enough (embedding, a write to Milvus) to overlap the second request.
            (Path(materials) / "90-replicas.md").write_text("# Replicas\n\nEvery replica shares one PostgreSQL for its state.\n" * 20)
            await asyncio.gather(*(post_slash(http, replica, fake, "reindex cs101", "UPROF") for replica in (a, b)))
            reports = await fake.wait_for(lambda: len(fake.of("respond")) >= 2 and fake.of("respond"), timeout=120)
            await until(lambda: replicas[2].reindex_locks.running("cs101") is None, timeout=120)
            return [call.args["text"] for call in reports]

    texts = asyncio.run(scenario())
    runs = replicas[2].run_history.runs("cs101", limit=100)
    assert len(runs) == before + 1, [run.summary() for run in runs]
    assert runs[0].report is not None and runs[0].report.added == ["90-replicas.md"]
    assert sum("already running" in text for text in texts) == 1, texts


def test_a_scheduled_run_fires_on_one_replica(replicas: list[MentorApp]) -> None:
    course = replicas[0].course("cs101")
    before = len(replicas[2].run_history.runs("cs101", limit=100))

    async def scenario() -> list[object]:
        when = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=2)
        schedulers = [
            ReindexScheduler(ChatCommands(app).reindexer, [course], ScheduleSettings(jitter_seconds=0), ScheduleClaims(app.database))
            for app in replicas
        ]
        outcomes: list[object] = []
        for scheduler in schedulers:
            record_outcomes(scheduler, "run_course", outcomes)
            scheduler.start({"cs101": DateTrigger(when)})
        try:
            await until(lambda: len(outcomes) == 3, timeout=120)
        finally:
            for scheduler in schedulers:
                scheduler.shutdown()
        return outcomes

    outcomes = asyncio.run(scenario())
    assert sum(outcome is not None for outcome in outcomes) == 1, outcomes
    runs = replicas[2].run_history.runs("cs101", limit=100)
    assert len(runs) == before + 1 and runs[0].trigger == "schedule"
