"""A class at once, mostly through Slack's HTTP Events API (real Bolt and slack_sdk against the
fake Slack), and through the web page: a real MentorApp over the example course, and a fake
OpenAI-compatible LLM server that streams each answer (4 at once, like `llama_cpp.server --parallel 4`)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import pytest

from bench.fake_llm import FakeLLM
from bot.app import MentorApp
from tests.adapters.fake_slack import BOT_USER, event_body, signed_headers
from tests.adapters.slack_burst import QUESTIONS, is_answer, replies_by_thread, run_with, send_mentions, settled
from tests.adapters.test_slack import SECRET, Slack, mention
from tests.adapters.web_helpers import Event, Web, run_web


def test_a_class_sized_burst_is_queued_and_every_student_answered_once(llm_mentor: MentorApp, llm: FakeLLM) -> None:
    mentions = [(f"U{n:03d}", f"1700000001.{n:06d}") for n in range(200)]

    async def scenario(slack: Slack) -> None:
        statuses = await send_mentions(slack, mentions)
        assert statuses == [200] * 200, "every event is acknowledged"
        await slack.fake.wait_for(lambda: settled(slack) >= 200, 240)
        await slack.platform.stop()
        threads = replies_by_thread(slack)
        assert sorted(threads) == sorted(ts for _, ts in mentions)
        shown = {ts: texts for ts, texts in threads.items() if len(texts) != 1 or not is_answer(texts[0])}
        assert not shown, f"each thread holds exactly its answer, nothing else: {list(shown.items())[:3]}"
        placeholders = [call.args["text"] for call in slack.fake.of("chat.postMessage")]
        assert any("ahead of yours" in text for text in placeholders), "waiting students see their place in line"
        assert not any("try again" in text.lower() or "ask again" in text.lower() for text in placeholders)

    run_with(llm_mentor, scenario)
    assert llm.served >= 200


def test_a_flooding_student_is_told_once_and_the_others_are_answered(llm_mentor: MentorApp, caplog: pytest.LogCaptureFixture) -> None:
    flood = [("UFLOOD", f"1700000002.{n:06d}") for n in range(8)]
    others = [(f"UOTHER{n}", f"1700000003.{n:06d}") for n in range(8)]

    async def scenario(slack: Slack) -> None:
        statuses = await send_mentions(slack, flood + others)
        assert statuses == [200] * 16
        await slack.fake.wait_for(lambda: settled(slack) >= 3 + 1 + 8, 120)
        await slack.platform.stop()
        threads = replies_by_thread(slack)
        flood_replies = [threads.get(ts, []) for _, ts in flood]
        told = [texts for texts in flood_replies if texts and texts[0].startswith(":warning:")]
        assert sum(1 for texts in flood_replies if texts and is_answer(texts[0])) == 3, "three a minute are answered"
        assert len(told) == 1 and "questions in the last minute" in told[0][0], "the student is told once, kindly"
        assert sum(1 for texts in flood_replies if not texts) == 4, "the rest are only logged"
        assert all(len(threads[ts]) == 1 and is_answer(threads[ts][0]) for _, ts in others)

    with caplog.at_level(logging.INFO, logger="mentor.failures"):
        run_with(llm_mentor, scenario, per_student_per_minute=3)
    assert sum("RateLimitedError" in record.getMessage() for record in caplog.records) == 4


def test_past_the_bound_a_student_is_told_when_to_ask_again(llm_mentor: MentorApp, llm: FakeLLM) -> None:
    mentions = [(f"UFULL{n}", f"1700000004.{n:06d}") for n in range(12)]

    async def scenario(slack: Slack) -> None:
        llm.answer_seconds = 2.0
        try:
            statuses = await send_mentions(slack, mentions)
            assert statuses == [200] * 12
            await slack.fake.wait_for(lambda: settled(slack) >= 12, 120)
        finally:
            llm.answer_seconds = 0.2
        await slack.platform.stop()
        texts = [t for texts in replies_by_thread(slack).values() for t in texts]
        refused = [t for t in texts if t.startswith(":warning:")]
        assert refused and all("ask again in about 1 minute" in t for t in refused), refused
        assert len(refused) + sum(map(is_answer, texts)) == 12, "each question gets one reply: an answer or when to come back"

    run_with(llm_mentor, scenario, queue_size=4)


def test_malformed_events_and_unknown_courses_never_wedge_the_line(llm_mentor: MentorApp, caplog: pytest.LogCaptureFixture) -> None:
    async def post(slack: Slack, event: dict[str, Any], event_id: str) -> int:
        body = json.dumps(event_body(event, event_id))
        async with aiohttp.ClientSession() as http:
            async with http.post(slack.events_url, data=body, headers=signed_headers(SECRET, body)) as response:
                return response.status

    async def scenario(slack: Slack) -> None:
        text = f"<@{BOT_USER}> {QUESTIONS[0]}"
        no_channel = {"type": "app_mention", "user": "U1", "text": text, "ts": "1700000005.000001"}
        no_user = {"type": "app_mention", "text": text, "ts": "1700000005.000002", "channel": "CGENERAL"}
        no_ts = {"type": "app_mention", "user": "U3", "text": text, "channel": "CGENERAL"}
        statuses = [await post(slack, event, f"EvBad{n}") for n, event in enumerate((no_channel, no_user, no_ts))]
        statuses.append(await post(slack, mention(text, "1700000005.000004", channel="CNOCOURSE", user="U4"), "EvUnknown"))
        statuses.append(await post(slack, mention(text, "1700000005.000005", user="U5"), "EvGood"))
        assert statuses == [200] * 5
        await slack.fake.wait_for(lambda: settled(slack) >= 2, 120)
        await slack.platform.stop()
        threads = replies_by_thread(slack)
        assert sorted(threads) == ["1700000005.000004", "1700000005.000005"]
        (unknown,) = threads["1700000005.000004"]
        assert unknown.startswith(":warning:") and "nowhere" in unknown
        (answer,) = threads["1700000005.000005"]
        assert is_answer(answer)

    with caplog.at_level(logging.WARNING, logger="adapters.slack.platform"):
        run_with(llm_mentor, scenario, slack={"channels": {"CNOCOURSE": "nowhere"}})
    ignored = [record.getMessage() for record in caplog.records if "ignored a app_mention event" in record.getMessage()]
    assert len(ignored) == 2, ignored  # the one without a user is not a question at all (a bot's, or a system message)


def test_the_web_page_hears_its_place_in_line_while_it_waits(llm_mentor: MentorApp, llm: FakeLLM) -> None:
    streams: list[list[Event]] = []

    async def scenario(web: Web) -> None:
        asks = (web.ask({"question": QUESTIONS[0], "user": f"web-{n}"}) for n in range(16))
        streams.extend(await asyncio.gather(*asks))

    llm.answer_seconds = 1.0
    try:
        run_web(llm_mentor, scenario)
    finally:
        llm.answer_seconds = 0.2
    assert all(events[-1][0] == "answer" for events in streams), "every page got its answer"
    queued = [data for events in streams for name, data in events if name == "queued"]
    assert any(data["ahead"] >= 1 and "ahead of yours" in data["text"] for data in queued), queued


def test_thirty_questions_of_four_thousand_characters_each_get_one_reply(llm_mentor: MentorApp) -> None:
    long_question = ("How do I stop a loop early when " + "the list is very long and " * 160)[:3990] + "?"
    mentions = [(f"ULONG{n}", f"1700000006.{n:06d}") for n in range(30)]

    async def scenario(slack: Slack) -> None:
        async with aiohttp.ClientSession() as http:
            for student, ts in mentions:
                body = json.dumps(event_body(mention(f"<@{BOT_USER}> {long_question}", ts, user=student), f"Ev{ts}"))
                async with http.post(slack.events_url, data=body, headers=signed_headers(SECRET, body)) as response:
                    assert response.status == 200
        await slack.fake.wait_for(lambda: settled(slack) >= 30, 240)
        await slack.platform.stop()
        threads = replies_by_thread(slack)
        assert all(len(threads[ts]) == 1 and is_answer(threads[ts][0]) for _, ts in mentions)

    run_with(llm_mentor, scenario)
