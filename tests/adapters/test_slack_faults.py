"""Faults in the middle of a burst, through Slack's HTTP Events API: Slack failing, the LLM server
down or writing garbage, and `mentor serve` stopped. Each question gets exactly one reply (an
answer, or an honest message), and the service recovers by itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.fake_llm import FakeLLM
from bot.app import MentorApp
from bot.config.sections import HealthSettings, LlmSettings, ScheduleSettings, ServeSettings, SlackSettings, WebSettings
from bot.serve import serve
from bot.service.notices import RESTARTING
from rag.answerer import RETRIEVAL_ONLY
from tests.adapters.fake_slack import FakeSlack
from tests.adapters.slack_burst import is_answer, replies_by_thread, run_with, send_mentions, settled
from tests.adapters.test_slack import SECRET, Slack
from tests.conftest import example_course_app, free_port, until


def one_reply_each(slack: Slack, threads: list[str]) -> dict[str, str]:
    """Each thread's one message, asserting there is exactly one and it is final."""
    shown = replies_by_thread(slack)
    assert sorted(shown) == sorted(threads), "every question heard back"
    several = {ts: texts for ts, texts in shown.items() if len(texts) != 1 or texts[0].startswith(":hourglass_flowing_sand:")}
    assert not several, f"exactly one final message per thread: {list(several.items())[:3]}"
    return {ts: texts[0] for ts, texts in shown.items()}


def test_slack_failing_with_500s_and_429s_mid_burst_still_answers_each_thread_once(llm_mentor: MentorApp) -> None:
    mentions = [(f"UF{n}", f"1700000010.{n:06d}") for n in range(20)]

    async def scenario(slack: Slack) -> None:
        slack.fake.server_errors = {"chat.postMessage": 6, "chat.update": 6}
        slack.fake.rate_limited = {"chat.update": 4}
        assert await send_mentions(slack, mentions) == [200] * 20
        await slack.fake.wait_for(lambda: settled(slack) >= 20 and not slack.fake.server_errors.get("chat.update"), 180)
        await slack.platform.stop()
        shown = one_reply_each(slack, [ts for _, ts in mentions])
        assert all(is_answer(text) for text in shown.values())

    run_with(llm_mentor, scenario)


def test_the_llm_down_or_writing_garbage_mid_burst_gets_one_honest_reply_each_and_answers_resume(
    llm_mentor: MentorApp, llm: FakeLLM
) -> None:
    down = [(f"UD{n}", f"1700000011.{n:06d}") for n in range(6)]
    garbage = [(f"UG{n}", f"1700000012.{n:06d}") for n in range(6)]
    back = [(f"UB{n}", f"1700000013.{n:06d}") for n in range(4)]

    async def scenario(slack: Slack) -> None:
        llm.go_down()
        try:
            await send_mentions(slack, down)
            await slack.fake.wait_for(lambda: settled(slack) >= 6, 120)
        finally:
            llm.come_back()
        llm.fault = "garbage"
        try:
            await send_mentions(slack, garbage)
            await slack.fake.wait_for(lambda: settled(slack) >= 12, 120)
        finally:
            llm.fault = "none"
        await send_mentions(slack, back)
        await slack.fake.wait_for(lambda: settled(slack) >= 16, 120)
        await slack.platform.stop()
        shown = one_reply_each(slack, [ts for _, ts in down + garbage + back])
        without_model = RETRIEVAL_ONLY.split(",")[0]
        for _, ts in down + garbage:
            assert without_model in shown[ts], f"without the model: the passages, said plainly: {shown[ts][:120]}"
        for _, ts in back:
            assert "break" in shown[ts] and without_model not in shown[ts], "the model writes again"

    run_with(llm_mentor, scenario)


def test_serve_stopped_mid_burst_tells_every_student_not_answered_in_time(tmp_path: Path) -> None:
    llm = FakeLLM(answer_seconds=0.5, slots=2).start()
    ingested = example_course_app(tmp_path)
    ingested.close()  # `mentor serve` opens the index itself, as the one process that may
    mentions = [(f"US{n}", f"1700000014.{n:06d}") for n in range(12)]

    async def scenario() -> dict[str, str]:
        fake = FakeSlack()
        await fake.start()
        settings = SlackSettings(mode="http", bot_token="xoxb-test", signing_secret=SECRET, api_url=fake.api_url, port=free_port())
        app = MentorApp(ingested.settings.model_copy(
            update={
                "slack": settings,
                "llm": LlmSettings(base_url=llm.base_url, model="fake", parallel=2, max_tokens=64),
                "serve": ServeSettings(stop_grace_seconds=1.0),
                "web": WebSettings(enabled=False),
                "health": HealthSettings(enabled=False),
                "reindex": ScheduleSettings(enabled=False),
            }
        ))
        said: list[str] = []
        stop = asyncio.Event()
        server = asyncio.create_task(serve(app, said.append, stop))
        await until(lambda: any(line.startswith("serving") for line in said) or server.done(), timeout=180)
        slack = Slack(fake, None, None, settings)  # type: ignore[arg-type]
        assert await send_mentions(slack, mentions) == [200] * 12
        await until(lambda: llm.served >= 2)
        stop.set()
        await server
        await fake.stop()
        assert any("still waiting for their turn are told" in line for line in said), said
        return one_reply_each(slack, [ts for _, ts in mentions])

    try:
        shown = asyncio.run(scenario())
    finally:
        llm.stop()
    told = [text for text in shown.values() if not is_answer(text)]
    assert told and all(RESTARTING in text for text in told), told
    assert len(mentions) - len(told) >= 2, "the answers written before the stop went out"
