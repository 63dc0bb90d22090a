"""A class at once: signed Slack mentions sent together to `mentor serve` in Slack HTTP mode.

`mentor serve` runs in this process over the sample course, against a local fake Slack
(`tests/adapters/fake_slack.py`) and a fake OpenAI-compatible server that streams each
answer in about `--answer-seconds` with `--parallel` slots (`bench/fake_llm.py`). Per row:

- acknowledged within 3 s (Slack's limit), answered, refused, silent and duplicated threads;
- time to drain, beside the ideal: N ÷ parallel × answer time, plus one search;
- RSS of this process before the burst (after a warm-up) and after it drained.

The same burst also goes through Discord (`tests/adapters/fake_discord.py`: the real
discord.py client, a fake gateway), and with `--llama-server`, 20 questions through Slack to
the real `llama_cpp.server` with the packaged SmolLM2 (one generation at a time).

The fairness row sends 20 questions from one student and 1 from each of 20 others through
`ChatCommands` (no per-student rate), and reports the others' p95 wait with the line keyed
by student (round-robin) and with every question its own (first come, first served).

    .venv/bin/python -m bench.load [--rows 200:200,1000:300] [--discord 200] [--answer-seconds 0.5] [--parallel 4] [--llama-server]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from bench.fake_llm import FakeLLM
from bench.slack_burst import (
    COURSE,
    QUESTIONS,
    SECRET,
    by_thread,
    mention,
    rss_mib,
    serve_in_child,
    settled,
    stop_child,
    until_listening,
)
from bench.stats import percentile
from bot.app import MentorApp
from bot.config.sections import AnswerSettings, DiscordSettings, HealthSettings, LlmSettings, ScheduleSettings, SlackSettings, WebSettings
from bot.config.settings import Settings
from bot.service.commands import ChatCommands
from models import Course, Question
from rag.model_files import PACKAGED_DEMO, packaged_demo_path
from tests.adapters.fake_discord import STUDENT, FakeDiscord
from tests.adapters.fake_discord import mention as discord_mention
from tests.adapters.fake_slack import FakeSlack
from tests.conftest import free_port

ACK_LIMIT_S = 3.0
PLACE = "Got your question."
"""How the place-in-line message starts (`bot.service.notices.place_in_line`), which is not a reply."""


@dataclass
class Row:
    mentions: int
    students: int
    acked: int
    answered: int
    refused: int
    silent: int
    duplicates: int
    drain_s: float
    ideal_s: float
    rss_before_mib: float
    rss_after_mib: float
    platform: str = "Slack"
    ack_p99_s: float | None = None

    def _ack_p99(self) -> str:
        return "" if self.ack_p99_s is None else f" (p99 {self.ack_p99_s:.2f} s)"

    def show(self) -> str:
        return (
            f"| {self.platform}: {self.mentions:,} from {self.students:,} students | {self.acked / self.mentions:.0%}{self._ack_p99()} | {self.answered} | {self.refused} "
            f"| {self.silent} | {self.duplicates} | {self.drain_s:.1f} s (ideal {self.ideal_s:.1f} s, {self.drain_s / self.ideal_s:.2f}×) "
            f"| {self.rss_before_mib:.0f} → {self.rss_after_mib:.0f} MiB ({self.rss_after_mib / self.rss_before_mib:.2f}×) |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="200:200,1000:300", help="mentions:students, comma-separated")
    parser.add_argument("--answer-seconds", type=float, default=0.5)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--discord", type=int, default=200, help="mentions through the fake Discord gateway (0: none)")
    parser.add_argument("--llama-server", action="store_true", help="also 20 questions against llama_cpp.server with SmolLM2")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    llm = FakeLLM(answer_seconds=args.answer_seconds, slots=args.parallel).start()
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            settings = burst_settings(Path(data_dir), llm, args.parallel)
            ingesting = MentorApp(settings)
            ingesting.ingest("cs101")
            args.search_seconds = search_seconds(ingesting)
            ingesting.close()  # `mentor serve` opens the index itself
            print(f"fake LLM: {args.answer_seconds} s an answer, {args.parallel} at once\n")
            print("| mentions at once | acknowledged within 3 s | answered | refused | silent | duplicates | time to drain | RSS before → after |")
            print("|---|---|---|---|---|---|---|---|")
            for spec in args.rows.split(","):
                mentions, students = (int(part) for part in spec.split(":"))
                print(asyncio.run(slack_burst_row(settings, mentions, students, args)).show(), flush=True)
            if args.discord:
                print(asyncio.run(_discord_burst(settings, args.discord, args)).show(), flush=True)
            if args.llama_server:
                print(_llama_server_row(settings, args), flush=True)
            print()
            fair, fifo = (asyncio.run(_fairness(settings, keyed)) for keyed in (True, False))
            print(f"20 from 1 student + 20 from 20 others: the others' wait p95 {fair:.1f} s round-robin, {fifo:.1f} s first come first served")
    finally:
        llm.stop()


def burst_settings(data_dir: Path, llm: FakeLLM, parallel: int) -> Settings:
    return Settings(
        data_dir=data_dir,
        courses=[Course(name="cs101", sources=(COURSE,))],
        llm=LlmSettings(base_url=llm.base_url, model="fake", parallel=parallel, max_tokens=64),
        answer=AnswerSettings(mode="generate"),
        slack=SlackSettings(mode="http", bot_token="xoxb-bench", signing_secret=SECRET, port=free_port(), api_url="http://127.0.0.1:1/api/"),
        web=WebSettings(enabled=False),
        health=HealthSettings(enabled=False),
        reindex=ScheduleSettings(enabled=False),
    )


async def slack_burst_row(settings: Settings, mentions: int, students: int, args: argparse.Namespace) -> Row:
    fake = FakeSlack()
    await fake.start()
    settings = settings.model_copy(update={"slack": settings.slack.model_copy(update={"api_url": fake.api_url, "port": free_port()})})
    child = serve_in_child(settings)
    url = f"http://127.0.0.1:{settings.slack.port}{settings.slack.path}"
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            await until_listening(http, url)
            warm = [("UWARM", f"1600000000.{n:06d}") for n in range(3)]
            for student, ts in warm:
                await mention(http, url, student, ts, 0)
            await fake.wait_for(lambda: settled(fake, {ts for _, ts in warm}) == len(warm), 120)
            rss_before = rss_mib(child.pid)
            burst = [(f"U{n % students:05d}", f"1700000000.{n:06d}") for n in range(mentions)]
            started = time.monotonic()
            acks = await asyncio.gather(*(mention(http, url, student, ts, n) for n, (student, ts) in enumerate(burst)))
            threads = {ts for _, ts in burst}
            await fake.wait_for(lambda: settled(fake, threads) == len(threads), 1800)
            drained = time.monotonic() - started
            await asyncio.sleep(1.0)  # the last answers' feedback links
            rss_after = rss_mib(child.pid)
    finally:
        stop_child(child)
        await fake.stop()
    shown = by_thread(fake, threads)
    finals = {ts: [t for t in texts if not t.startswith(":hourglass_flowing_sand:")] for ts, texts in shown.items()}
    return Row(
        mentions=mentions,
        students=students,
        acked=sum(status == 200 and seconds <= ACK_LIMIT_S for status, seconds in acks),
        answered=sum(1 for texts in finals.values() if texts and not texts[0].startswith(":warning:")),
        refused=sum(1 for texts in finals.values() if texts and texts[0].startswith(":warning:")),
        silent=len(threads) - sum(1 for texts in finals.values() if texts),
        duplicates=sum(1 for texts in finals.values() if len(texts) > 1),
        drain_s=drained,
        ideal_s=mentions / args.parallel * args.answer_seconds + args.search_seconds,
        rss_before_mib=rss_before,
        rss_after_mib=rss_after,
        ack_p99_s=percentile([seconds for _, seconds in acks], 0.99),
    )


async def _discord_burst(settings: Settings, mentions: int, args: argparse.Namespace) -> Row:
    """`mentions` students each mention the bot once in a channel, through the fake gateway."""
    fake = FakeDiscord()
    await fake.start()
    discord = DiscordSettings(token=SecretStr("bench-token"), api_url=fake.api_url, gateway_url=fake.gateway_url)
    child = serve_in_child(settings.model_copy(update={"discord": discord, "slack": SlackSettings()}))
    try:
        await fake.wait_for(lambda: fake.identifies >= 1, timeout=300)
        await asyncio.sleep(2.0)  # the client's READY and guild, then its slash command sync

        def replies(thread: int) -> list[str]:
            said = (str(call.body.get("content", "")) for call in fake.posted(f"/channels/{thread}/messages"))
            return [text for text in said if PLACE not in text]

        warm = discord_mention(QUESTIONS[0], author_id=STUDENT)
        await fake.dispatch("MESSAGE_CREATE", warm)
        await fake.wait_for(lambda: replies(int(warm["id"])), timeout=300)
        rss_before = rss_mib(child.pid)
        questions = [discord_mention(QUESTIONS[n % len(QUESTIONS)], author_id=STUDENT + 1 + n) for n in range(mentions)]
        started = time.monotonic()
        for question in questions:
            await fake.dispatch("MESSAGE_CREATE", question)
        threads = [int(question["id"]) for question in questions]

        await fake.wait_for(lambda: all(replies(thread) for thread in threads), timeout=1800)
        drained = time.monotonic() - started
        await asyncio.sleep(1.0)
        rss_after = rss_mib(child.pid)
    finally:
        stop_child(child)
        await fake.stop()
    finals = [replies(thread) for thread in threads]
    refused = sum(1 for texts in finals if texts and "ask again" in texts[0])
    return Row(
        mentions=mentions, students=mentions, acked=mentions, answered=sum(1 for texts in finals if texts) - refused,
        refused=refused, silent=sum(1 for texts in finals if not texts), duplicates=sum(1 for texts in finals if len(texts) > 1),
        drain_s=drained, ideal_s=mentions / args.parallel * args.answer_seconds + args.search_seconds,
        rss_before_mib=rss_before, rss_after_mib=rss_after, platform="Discord",
    )


def _llama_server_row(settings: Settings, args: argparse.Namespace) -> str:
    """20 students at once through Slack, answered by the real `llama_cpp.server` with SmolLM2."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(packaged_demo_path()), "--model_alias", PACKAGED_DEMO,
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--interrupt_requests", "False"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        _until_http(f"http://127.0.0.1:{port}/v1/models")
        llm = LlmSettings(base_url=f"http://127.0.0.1:{port}/v1", model=PACKAGED_DEMO, parallel=1, max_tokens=96)
        served = settings.model_copy(update={"llm": llm})
        one = argparse.Namespace(parallel=1, answer_seconds=args.answer_seconds, search_seconds=args.search_seconds)
        row = asyncio.run(slack_burst_row(served, 20, 20, one))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return row.show().replace(f"(ideal {row.ideal_s:.1f} s, {row.drain_s / row.ideal_s:.2f}×)", "(one generation at a time on the CPU)") + " ← llama_cpp.server, SmolLM2"


def _until_http(url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} never answered")


async def _fairness(settings: Settings, keyed: bool) -> float:
    """The 20 single askers' p95 wait (seconds) behind a student who sent 20 at once."""
    settings = settings.model_copy(update={"answer": settings.answer.model_copy(update={"per_student_per_minute": 0})})
    mentor = MentorApp(settings)
    commands = ChatCommands(mentor)
    started = time.monotonic()
    waits: list[float] = []

    async def ask(asker: str, n: int, timed: bool) -> None:
        await commands.ask(Question(text=QUESTIONS[n % len(QUESTIONS)], course="cs101", asker=asker if keyed else None, platform="bench"))
        if timed:
            waits.append(time.monotonic() - started)

    flood = [ask("flooder", n, False) for n in range(20)]
    others = [ask(f"student{n}", n, True) for n in range(20)]
    await asyncio.gather(*flood, *others)
    mentor.close()
    return percentile(waits, 0.95)


def search_seconds(mentor: MentorApp) -> float:
    """One question's search, p50 of five: the ideal drain time's last step."""
    seconds = []
    for text in QUESTIONS:
        started = time.monotonic()
        mentor.search(text, "cs101")
        seconds.append(time.monotonic() - started)
    return percentile(seconds, 0.5)




if __name__ == "__main__":
    main()
