"""Channel modes and shared files on Slack: real Bolt against the fake Slack, whose files
are served only to the bot token, as `url_private` is."""

from __future__ import annotations

import logging
from itertools import count
from typing import Any

import pytest

from bot.app import MentorApp
from tests.adapters.fake_slack import BOT_USER, FakeSlack, event_body
from tests.adapters.test_slack import QUESTION, Slack, answers_in, block_text, mention, mentor, run_slack  # noqa: F401  (mentor: the fixture)

HELP_CHANNEL = {"CHELP": {"course": "cs101", "mode": "forum"}}
_ts = count(1)
PATIENCE = 180.0
"""Seconds to wait for answers written one after another by the one in-process model, on a busy machine."""


def said(text: str, channel: str = "CHELP", **extra: Any) -> dict[str, Any]:
    """A `message` event in a channel, with a fresh ts."""
    ts = f"1700000500.{next(_ts):06d}"
    return {"type": "message", "channel": channel, "channel_type": "channel", "user": "USTUDENT", "text": text, "ts": ts, **extra}


async def deliver(fake: FakeSlack, event: dict[str, Any]) -> None:
    await fake.send_envelope("events_api", event_body(event, f"Ev{event['type']}{event['ts']}"))


async def answered_dm(fake: FakeSlack) -> None:
    """Envelopes are handled in order: once a later DM is answered, everything before it was decided."""
    before = len(answers_in(fake, "DSTUDENT"))
    await deliver(fake, said("what is a set?", channel="DSTUDENT", channel_type="im"))
    await fake.wait_for(lambda: len(answers_in(fake, "DSTUDENT")) > before, PATIENCE)


def in_thread(fake: FakeSlack, thread: str) -> list[dict[str, Any]]:
    return [call.args for call in fake.of("chat.postMessage") if call.args.get("thread_ts") == thread]


def test_a_top_level_message_in_a_help_channel_is_answered_in_its_thread_once(mentor: MentorApp) -> None:  # noqa: F811
    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        post = said(QUESTION)
        await deliver(fake, post)
        await fake.send_envelope("events_api", event_body(post, f"Evmessage{post['ts']}"), retry_attempt=1)
        mentioned = said(f"<@{BOT_USER}> how do I make an empty set?")
        await deliver(fake, mentioned)
        await deliver(fake, mention(mentioned["text"], mentioned["ts"], channel="CHELP"))  # the same message, as app_mention
        await deliver(fake, said("what is a set?", subtype="message_changed"))
        await deliver(fake, said(QUESTION, user="UOTHER", bot_id="BOTHER"))
        await deliver(fake, said("and in a while loop?", thread_ts=post["ts"]))
        await answered_dm(fake)
        await fake.wait_for(lambda: len(answers_in(fake, "CHELP")) == 2, PATIENCE)

        assert len(in_thread(fake, post["ts"])) == 1 and len(in_thread(fake, mentioned["ts"])) == 1
        assert len(answers_in(fake, "CHELP")) == 2, "one answer each: no retry, edit, bot or unmentioned follow-up answered"

    run_slack(mentor, scenario, channels=HELP_CHANNEL)


def test_off_answers_nothing_and_follow_ups_always_skip_bots_and_ta_threads(mentor: MentorApp) -> None:  # noqa: F811
    routes = {"CGENERAL": {"mode": "off"}, "CHELP": {"course": "cs101", "mode": "forum", "follow_ups": "always"}}

    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        await deliver(fake, mention(f"<@{BOT_USER}> {QUESTION}", "1700000600.000001"))
        by_bot = said("Weekly FAQ", user="UOTHER", bot_id="BOTHER")
        fake.threads[by_bot["ts"]] = [by_bot]
        await deliver(fake, by_bot)
        await deliver(fake, said(QUESTION, thread_ts=by_bot["ts"]))
        post = said(QUESTION)
        fake.threads[post["ts"]] = [post]
        await deliver(fake, post)
        await fake.wait_for(lambda: len(answers_in(fake, "CHELP")) == 1, PATIENCE)
        await deliver(fake, said("and what does continue do?", thread_ts=post["ts"]))
        await fake.wait_for(lambda: len(answers_in(fake, "CHELP")) == 2, PATIENCE)
        await deliver(fake, said("See the week 2 notes too.", user="UTA", thread_ts=post["ts"]))
        await deliver(fake, said("and else on a loop?", thread_ts=post["ts"]))
        helped = said("how do I make an empty set?")
        await deliver(fake, helped)
        await deliver(fake, said("Use set(), not {}.", user="UTA", thread_ts=helped["ts"]))
        [withdrawn] = await fake.wait_for(lambda: fake.of("chat.delete"), PATIENCE)
        await answered_dm(fake)

        assert not answers_in(fake, "CGENERAL") and not in_thread(fake, "1700000600.000001")
        assert not in_thread(fake, by_bot["ts"]), "a thread another bot started gets no unasked answer"
        assert len(in_thread(fake, post["ts"])) == 2, "follow-ups stop once a TA has answered in the thread"
        assert len(in_thread(fake, helped["ts"])) == 1, "the placeholder alone was posted there"
        assert not [u for u in fake.of("chat.update") if u.args["ts"] == withdrawn.args["ts"] and u.args.get("blocks")], (
            "a TA answered while the bot was writing: its placeholder goes, and no answer follows"
        )

    run_slack(mentor, scenario, channels=routes, ta_users=["UTA"])


def test_files_are_read_with_the_bot_token_or_named_and_a_screenshot_alone_asks_for_text(mentor: MentorApp) -> None:  # noqa: F811
    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        screenshot = fake.file("error.png", b"\x89PNG not really", "image/png")
        alone = said("", subtype="file_share", files=[screenshot])
        await deliver(fake, alone)
        await fake.wait_for(lambda: in_thread(fake, alone["ts"]), PATIENCE)
        [asked_for_text] = in_thread(fake, alone["ts"])
        assert "paste the error message" in asked_for_text["text"] and "error.png" in asked_for_text["text"]

        script = fake.file("loop.py", b"for n in range(10):\n    if n == 3:\n        break\n", "text/x-python")
        big = fake.file("trace.log", b"", "text/plain", size=25_000_000)
        post = said("why does this stop at 3? what does break do?", subtype="file_share", files=[script, big, screenshot])
        await deliver(fake, post)
        await fake.wait_for(lambda: len(answers_in(fake, "CHELP")) == 1, PATIENCE)
        [answer] = answers_in(fake, "CHELP")
        [notice] = [block["elements"][0]["text"] for block in answer["blocks"] if block["type"] == "context"]
        assert "I didn't download trace.log (25.0 MB)" in notice and "didn't read error.png" in notice
        assert notice in answer["text"] and "/notes/" in block_text(answer), "the notice heads the answer, which keeps its sources"
        assert fake.downloads == [(f"/files/{script['id']}/loop.py", "Bearer xoxb-test")], "only the code file, with the bot token"
        asked = next(q for q in slack.commands.questions.recent() if "stop at 3" in q.text)
        assert "loop.py:\n```\nfor n in range(10):" in asked.text

    run_slack(mentor, scenario, channels=HELP_CHANNEL)


def test_a_forum_channel_the_bot_cannot_use_is_named_at_startup(mentor: MentorApp, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.WARNING, logger="adapters.slack.platform")
    routes = {name: {"mode": "forum"} for name in ("CHELP", "COUTSIDE", "CGONE")}

    async def scenario(slack: Slack) -> None:
        assert slack.platform.is_connected(), "a warning, not a failed start"

    run_slack(mentor, scenario, channels=routes)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("#outside (COUTSIDE)" in line and "/invite" in line for line in warned), warned
    assert any("CGONE" in line and "channel_not_found" in line for line in warned), warned
    assert not any("CHELP" in line for line in warned)
