"""`mentor serve` killed mid-burst (SIGKILL) and started again, with Slack redelivering: the real
CLI in a child process, the fake Slack and the fake LLM server here, and a real Redis for dedupe."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from bench.fake_llm import FakeLLM
from bot.config.sections import SlackSettings
from tests.adapters.fake_slack import FakeSlack
from tests.adapters.slack_burst import send_mentions
from tests.adapters.test_slack import SECRET, Slack
from tests.bot.test_ops import REPO, serve_env
from tests.conftest import example_course_app, free_port, read_until, until


def start_serve(env: dict[str, str]) -> subprocess.Popen[str]:
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    assert server.stderr is not None
    read_until(server.stderr, "serving")
    return server


def test_questions_taken_before_a_kill_are_answered_once_after_the_restart(tmp_path: Path, redis_url: str) -> None:
    example_course_app(tmp_path / "state").close()
    llm = FakeLLM(answer_seconds=1.5, slots=1).start()
    mentions = [(f"UK{n}", f"1700000020.{n:06d}") for n in range(6)]

    async def scenario() -> FakeSlack:
        fake = FakeSlack()
        await fake.start()
        port = free_port()
        env = serve_env(
            tmp_path,
            MENTOR_WEB__ENABLED="false", MENTOR_HEALTH__ENABLED="false", MENTOR_REINDEX__ENABLED="false",
            MENTOR_SLACK__MODE="http", MENTOR_SLACK__BOT_TOKEN="xoxb-test", MENTOR_SLACK__SIGNING_SECRET=SECRET,
            MENTOR_SLACK__PORT=str(port), MENTOR_SLACK__API_URL=fake.api_url,
            MENTOR_LLM__BASE_URL=llm.base_url, MENTOR_LLM__MODEL="fake", MENTOR_LLM__PARALLEL="1", MENTOR_ANSWER__MODE="generate",
            MENTOR_DEDUPE__BACKEND="redis", MENTOR_DEDUPE__REDIS_URL=redis_url,
        )
        slack = Slack(fake, None, None, SlackSettings(port=port))  # type: ignore[arg-type]  # only its events URL is used
        server = await asyncio.to_thread(start_serve, env)
        try:
            assert await send_mentions(slack, mentions) == [200] * 6
            await until(lambda: llm.served >= 1, timeout=120)
            server.send_signal(signal.SIGKILL)  # mid-burst: most questions taken, acknowledged, not answered
            await asyncio.to_thread(server.wait, 30)
            assert len(fake.of("chat.postMessage")) == 6, "each question had its placeholder before the kill"

            server = await asyncio.to_thread(start_serve, env)
            # Slack redelivers every event once more, as after a missed acknowledgement.
            await send_mentions(slack, mentions, retry=1)
            threads = {ts for _, ts in mentions}
            # A partial answer (" …") the killed process left is not an answer: its question is still in line.
            finished = lambda: all(  # noqa: E731
                not m["text"].startswith(":hourglass") and not m["text"].endswith(" …") for m in fake.messages.values() if m["thread_ts"] in threads
            )
            await until(finished, timeout=180)
            await asyncio.sleep(1.0)
        finally:
            server.send_signal(signal.SIGTERM)
            await asyncio.to_thread(server.wait, 60)
            await fake.stop()
        return fake

    try:
        fake = asyncio.run(scenario())
    finally:
        llm.stop()
    by_thread: dict[str, list[str]] = {}
    for message in fake.messages.values():
        by_thread.setdefault(str(message["thread_ts"]), []).append(str(message["text"]))
    assert sorted(by_thread) == sorted(ts for _, ts in mentions)
    assert all(len(texts) == 1 and "break" in texts[0] for texts in by_thread.values()), by_thread
    assert len(fake.of("chat.postMessage")) == 6, "after the restart each answer went into the placeholder it already had"
