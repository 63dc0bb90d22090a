"""The fault campaign: a burst of Slack mentions to `mentor serve` while one part fails mid-way.

Like `bench.load` (Slack HTTP mode, the fake Slack, the fake streaming LLM server), but
during each burst one thing breaks for a while and comes back: the LLM server slows to
30 s an answer, goes down, or writes garbage mid-stream; the standalone Milvus server (the
`milvus` package) is killed and restarted; the Redis that holds dedupe and the rate limits
stops and restarts; Slack answers 429 storms and 500s; `mentor serve` is told to stop.

For each: every thread must end with exactly one reply (an answer, or an honest one-line
notice), none silent, none twice; and once the fault is over, new questions are answered
by the model again (the service recovered by itself). Slack redelivers every event of the
burst once at the end, as it does after a missed ack, and the shared dedupe must drop them.

    .venv/bin/python -m bench.faults [--mentions 60] [--only llm-down,milvus,...]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from bench.fake_llm import FakeLLM
from bench.slack_burst import COURSE, SECRET, by_thread, mention, settled, until_listening
from bot.app import MentorApp
from bot.config.sections import (
    AnswerSettings,
    DedupeSettings,
    HealthSettings,
    LlmSettings,
    ScheduleSettings,
    ServeSettings,
    SlackSettings,
    WebSettings,
)
from bot.config.settings import Settings
from bot.serve import serve
from models import Course
from rag.answerer import RETRIEVAL_ONLY
from tests.adapters.fake_slack import FakeSlack
from tests.conftest import free_port, start_redis, stop_redis

FAULT_SECONDS = 8.0
WITHOUT_MODEL = RETRIEVAL_ONLY.split(",")[0]


@dataclass
class Outcome:
    fault: str
    mentions: int
    answered: int
    notices: int
    silent: int
    duplicates: int
    recovered: str
    drain_s: float

    def show(self) -> str:
        return (
            f"| {self.fault} | {self.mentions} | {self.answered} | {self.notices} | {self.silent} | {self.duplicates} "
            f"| {self.recovered} | {self.drain_s:.1f} s |"
        )


@dataclass
class Burst:
    """One scenario's running parts, for its fault to break."""

    llm: FakeLLM
    slack: FakeSlack
    stop: asyncio.Event
    milvus: object | None = None
    redis: subprocess.Popen[bytes] | None = None
    redis_port: int = 0
    redis_dir: str = ""


Fault = Callable[[Burst], Awaitable[None]]


async def llm_slow(burst: Burst) -> None:
    burst.llm.fault, burst.llm.slow_seconds = "slow", 30.0
    await asyncio.sleep(FAULT_SECONDS)
    burst.llm.fault = "none"


async def llm_down(burst: Burst) -> None:
    burst.llm.go_down()
    await asyncio.sleep(FAULT_SECONDS)
    burst.llm.come_back()


async def llm_garbage(burst: Burst) -> None:
    burst.llm.fault = "garbage"
    await asyncio.sleep(FAULT_SECONDS)
    burst.llm.fault = "none"


async def milvus_killed(burst: Burst) -> None:
    server = burst.milvus
    await asyncio.to_thread(server.stop)  # type: ignore[attr-defined]
    await asyncio.sleep(FAULT_SECONDS)
    await asyncio.to_thread(server.start)  # type: ignore[attr-defined]


async def redis_down(burst: Burst) -> None:
    assert burst.redis is not None
    stop_redis(burst.redis)
    await asyncio.sleep(FAULT_SECONDS)
    burst.redis = start_redis(burst.redis_port, *_persistent(burst.redis_dir))


async def slack_storms(burst: Burst) -> None:
    burst.slack.rate_limited = {"chat.update": 40, "chat.postMessage": 10}
    burst.slack.server_errors = {"chat.update": 15, "chat.postMessage": 10}
    await asyncio.sleep(FAULT_SECONDS)


async def serve_stopped(burst: Burst) -> None:
    await asyncio.sleep(1.0)
    burst.stop.set()


FAULTS: dict[str, tuple[str, Fault]] = {
    "llm-slow": ("the LLM server slows to 30 s an answer", llm_slow),
    "llm-down": ("the LLM server goes down, then comes back", llm_down),
    "llm-garbage": ("the LLM server writes garbage mid-stream", llm_garbage),
    "milvus": ("the Milvus standalone server is killed and restarted", milvus_killed),
    "redis": ("Redis (dedupe, rate limits) stops and restarts", redis_down),
    "slack": ("Slack answers 429 storms and 500s", slack_storms),
    "sigterm": ("`mentor serve` is told to stop mid-burst (SIGTERM)", serve_stopped),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=60)
    parser.add_argument("--only", default=",".join(FAULTS), help="comma-separated: " + ", ".join(FAULTS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(f"{args.mentions} students at once; each fault lasts {FAULT_SECONDS:.0f} s; fake LLM: 0.5 s an answer, 4 at once\n")
    print("| fault | mentions | answered | honest notice | silent | duplicates | after the fault | time to drain |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.only.split(","):
        label, fault = FAULTS[name]
        print(asyncio.run(_scenario(name, label, fault, args.mentions)).show(), flush=True)


async def _scenario(name: str, label: str, fault: Fault, mentions: int) -> Outcome:
    with tempfile.TemporaryDirectory() as data_dir:
        llm = FakeLLM(answer_seconds=0.5, slots=4).start()
        slack = FakeSlack()
        await slack.start()
        burst = Burst(llm, slack, asyncio.Event())
        settings = _settings(Path(data_dir), llm, slack)
        try:
            if name == "milvus":
                burst.milvus, uri = _milvus(Path(data_dir))
                settings = settings.model_copy(update={"milvus_uri": uri, "milvus_timeout": 3.0})
            if name == "redis":
                burst.redis_port, burst.redis_dir = free_port(), data_dir
                burst.redis = start_redis(burst.redis_port, *_persistent(data_dir))
                url = SecretStr(f"redis://127.0.0.1:{burst.redis_port}/0")
                settings = settings.model_copy(update={"dedupe": DedupeSettings(backend="redis", redis_url=url)})
            ingesting = MentorApp(settings)
            ingesting.ingest("cs101")
            ingesting.close()
            return await _run(name, label, fault, burst, settings, mentions)
        finally:
            await slack.stop()
            llm.stop()
            if burst.redis is not None:
                stop_redis(burst.redis)
            if burst.milvus is not None:
                burst.milvus.stop()  # type: ignore[attr-defined]


async def _run(name: str, label: str, fault: Fault, burst: Burst, settings: Settings, mentions: int) -> Outcome:
    server = asyncio.create_task(serve(MentorApp(settings), lambda line: None, burst.stop))
    url = f"http://127.0.0.1:{settings.slack.port}{settings.slack.path}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        await until_listening(http, url)
        asked = [(f"U{n:05d}", f"1700000000.{n:06d}") for n in range(mentions)]
        started = time.monotonic()
        await asyncio.gather(*(mention(http, url, student, ts, n) for n, (student, ts) in enumerate(asked)))
        await fault(burst)
        threads = {ts for _, ts in asked}
        if name == "sigterm":
            await server
        else:
            await burst.slack.wait_for(lambda: settled(burst.slack, threads) == len(threads), 600)
        drained = time.monotonic() - started
        recovered = "n/a (stopped)" if name == "sigterm" else await _after(http, url, burst.slack)
        if name != "sigterm":
            await asyncio.gather(*(mention(http, url, student, ts, n, retry=1) for n, (student, ts) in enumerate(asked)))
            await asyncio.sleep(2.0)
    burst.stop.set()
    await server
    finals = {ts: [t for t in texts if not t.startswith(":hourglass_flowing_sand:")] for ts, texts in by_thread(burst.slack, threads).items()}
    notice = lambda text: text.startswith(":warning:") or WITHOUT_MODEL in text  # noqa: E731
    return Outcome(
        fault=label,
        mentions=mentions,
        answered=sum(1 for texts in finals.values() if texts and not notice(texts[0])),
        notices=sum(1 for texts in finals.values() if texts and notice(texts[0])),
        silent=sum(1 for texts in finals.values() if not texts),
        duplicates=sum(1 for texts in finals.values() if len(texts) > 1),
        recovered=recovered,
        drain_s=drained,
    )


async def _after(http: aiohttp.ClientSession, url: str, slack: FakeSlack) -> str:
    """Five new questions once the fault is over: how many the model answered."""
    fresh = [(f"UAFTER{n}", f"1800000000.{n:06d}") for n in range(5)]
    await asyncio.gather(*(mention(http, url, student, ts, 0) for student, ts in fresh))
    threads = {ts for _, ts in fresh}
    await slack.wait_for(lambda: settled(slack, threads) == len(threads), 300)
    shown = by_thread(slack, threads)
    written = sum(1 for texts in shown.values() if texts and "break" in texts[-1] and WITHOUT_MODEL not in texts[-1])
    return f"{written}/5 written by the model"


def _persistent(folder: str) -> tuple[str, ...]:
    """Redis as a dedupe store should run: every write on disk, so a restart forgets no event."""
    return ("--appendonly", "yes", "--appendfsync", "always", "--dir", folder)


def _settings(data_dir: Path, llm: FakeLLM, slack: FakeSlack) -> Settings:
    return Settings(
        data_dir=data_dir,
        courses=[Course(name="cs101", sources=(COURSE,))],
        llm=LlmSettings(base_url=llm.base_url, model="fake", parallel=4, max_tokens=64),
        answer=AnswerSettings(mode="generate"),
        slack=SlackSettings(mode="http", bot_token="xoxb-faults", signing_secret=SECRET, port=free_port(), api_url=slack.api_url),
        serve=ServeSettings(stop_grace_seconds=5.0),
        web=WebSettings(enabled=False),
        health=HealthSettings(enabled=False),
        reindex=ScheduleSettings(enabled=False),
    )


def _milvus(data_dir: Path) -> tuple[object, str]:
    """A real standalone Milvus (the `milvus` package, installed with the tests) in `data_dir`."""
    from milvus import MilvusServer

    server = MilvusServer()
    server.set_base_dir(str(data_dir / "milvus-server"))
    server.listen_port = free_port()
    server.start()
    return server, f"http://127.0.0.1:{server.listen_port}"


if __name__ == "__main__":
    main()
