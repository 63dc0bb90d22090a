"""Channel modes and attachments on Discord: the real discord.py client against the fake
Discord's forum channels (type 15, posts that open threads) and its attachment URLs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.app import MentorApp
from tests.adapters.fake_discord import (
    CHANNEL,
    DM,
    FORUM,
    LOCKED_FORUM,
    OTHER_BOT,
    STUDENT,
    TA_ROLE,
    TEACHER,
    THREAD,
    mention,
    message,
    user,
)
from tests.adapters.test_discord import answers_in, connected, linked_sources, mentor  # noqa: F401  (mentor: the module's fixture)
from tests.conftest import until

FORUM_MODE = {str(FORUM): {"course": "cs101", "mode": "forum"}}
PATIENCE = 180.0
"""Seconds to wait for answers written one after another by the one in-process model, on a busy machine."""


async def answered_dm(fake: Any) -> None:
    """Events are handled in order: once a later DM is answered, everything before it was decided."""
    before = len(answers_in(fake, DM))
    await fake.dispatch("MESSAGE_CREATE", message(DM, user(STUDENT, "student"), "what is a set?", guild=False))
    await fake.wait_for(lambda: len(answers_in(fake, DM)) > before, PATIENCE)


def test_a_forum_post_is_answered_in_its_thread_without_a_mention_exactly_once(mentor: MentorApp) -> None:  # noqa: F811
    async def scenario() -> None:
        async with connected(mentor, channels=FORUM_MODE, ta_roles=[TA_ROLE]) as (fake, platform):
            assert platform.client.intents.message_content, "posts without a mention need the Message Content intent"
            post = await fake.post("How do I leave a loop early?", "what does break do in a loop?")
            thread = int(post["id"])
            await fake.wait_for(lambda: answers_in(fake, thread), PATIENCE)
            fake.replay = [("MESSAGE_CREATE", post)]
            await fake.reconnect()
            await fake.wait_for(lambda: fake.resumes == 1, PATIENCE)
            edited = post | {"content": "what does break do in a for loop?", "edited_timestamp": "2024-09-01T10:05:00.000000+00:00"}
            await fake.dispatch("MESSAGE_UPDATE", edited)
            await fake.dispatch("MESSAGE_CREATE", message(thread, user(STUDENT, "student"), "and in a while loop?"))
            await answered_dm(fake)

            [answer] = answers_in(fake, thread)
            assert linked_sources(answer["content"]) and "message_reference" not in answer
            assert not fake.posted("/threads"), "a post is its own thread"
            [asked] = [q for q in platform.commands.questions.recent() if q.platform == "discord" and "break" in q.text]
            assert asked.text == "How do I leave a loop early?\nwhat does break do in a loop?", "the title is read first"

            await fake.dispatch("MESSAGE_CREATE", mention("and in a while loop?", channel=thread))
            await fake.wait_for(lambda: len(answers_in(fake, thread)) == 2, PATIENCE)
            assert fake.identifies == 1

    asyncio.run(scenario())


def test_bots_posts_their_threads_and_threads_a_ta_answered_get_no_unasked_answer(
    mentor: MentorApp, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    caplog.set_level(logging.INFO, logger="adapters.discord_bot.platform")
    always = {str(FORUM): {"course": "cs101", "mode": "forum", "follow_ups": "always"}}

    async def scenario() -> None:
        async with connected(mentor, channels=always, ta_roles=[TA_ROLE], ta_users=[TEACHER]) as (fake, _):
            by_bot = await fake.post("Weekly FAQ", "what does break do in a loop?", author_id=OTHER_BOT, bot=True)
            await fake.dispatch("MESSAGE_CREATE", message(int(by_bot["id"]), user(STUDENT, "student"), "what is a set?"))

            helped = await fake.post("Sets", "how do I make an empty set?")
            helped_thread = int(helped["id"])
            ta_reply = message(helped_thread, user(STUDENT + 1, "ta"), "Use set(), not {}.", roles=[TA_ROLE])
            await fake.dispatch("MESSAGE_CREATE", ta_reply)
            await until(lambda: any("a TA answered" in r.getMessage() for r in caplog.records), PATIENCE)
            await fake.dispatch("MESSAGE_CREATE", message(helped_thread, user(STUDENT, "student"), "why not {}?"))

            followed = await fake.post("Loops", "what does break do in a loop?")
            followed_thread = int(followed["id"])
            await fake.wait_for(lambda: answers_in(fake, followed_thread), PATIENCE)
            await fake.dispatch("MESSAGE_CREATE", message(followed_thread, user(STUDENT, "student"), "and continue?"))
            await fake.wait_for(lambda: len(answers_in(fake, followed_thread)) == 2, PATIENCE)
            await fake.dispatch("MESSAGE_CREATE", message(followed_thread, user(TEACHER, "teacher"), "See week 2 too."))
            await fake.dispatch("MESSAGE_CREATE", message(followed_thread, user(STUDENT, "student"), "and else on loops?"))
            await answered_dm(fake)

            assert not answers_in(fake, int(by_bot["id"])), "neither another bot's post nor a follow-up in its thread"
            assert not answers_in(fake, helped_thread), "the TA answered while the bot was writing: its answer is dropped"
            assert len(answers_in(fake, followed_thread)) == 2, "follow-ups stop once a TA (by user id) has answered"

    asyncio.run(scenario())


def test_off_answers_nothing_and_a_deleted_post_loses_nothing(mentor: MentorApp, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.INFO, logger="adapters.discord_bot.platform")
    routes = {str(CHANNEL): {"mode": "off"}} | FORUM_MODE

    async def scenario() -> None:
        async with connected(mentor, channels=routes) as (fake, _):
            await fake.dispatch("MESSAGE_CREATE", mention("what does break do in a loop?"))
            await fake.dispatch("MESSAGE_CREATE", mention("what is a set?", channel=THREAD))
            deleted = await fake.post("Loops", "what does break do in a loop?")
            fake.fail("POST", f"/channels/{deleted['id']}/messages", 404, {"message": "Unknown Channel", "code": 10003})
            await answered_dm(fake)
            await until(lambda: any("deleted before its answer" in r.getMessage() for r in caplog.records), PATIENCE)

            assert not answers_in(fake, CHANNEL) and not answers_in(fake, THREAD) and not fake.posted("/threads")
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    asyncio.run(scenario())


def test_attachments_are_read_or_named_and_an_image_alone_asks_for_the_text(mentor: MentorApp) -> None:  # noqa: F811
    code = b"for n in range(10):\n    if n == 3:\n        break\n"

    async def scenario() -> None:
        async with connected(mentor, channels=FORUM_MODE) as (fake, platform):
            screenshot = fake.attachment("error.png", b"\x89PNG not really", "image/png")
            shot = await fake.post("Error when I run my loop", "", attachments=[screenshot])
            await fake.wait_for(lambda: answers_in(fake, int(shot["id"])), PATIENCE)
            [asked_for_text] = answers_in(fake, int(shot["id"]))
            assert "paste the error message" in asked_for_text["content"] and "error.png" in asked_for_text["content"]

            untitled = await fake.post("what does break do in a loop?", "")
            await fake.wait_for(lambda: answers_in(fake, int(untitled["id"])), PATIENCE)
            assert linked_sources(answers_in(fake, int(untitled["id"]))[0]["content"]), "a post with no text: its title is the question"

            script = fake.attachment("loop.py", code, None)
            big = fake.attachment("trace.log", b"", "text/plain", size=25_000_000)
            post = await fake.post("Why does this stop at 3?", "what does break do here?", attachments=[script, big, screenshot])
            await fake.wait_for(lambda: answers_in(fake, int(post["id"])), PATIENCE)
            [answer] = answers_in(fake, int(post["id"]))
            assert "I didn't download trace.log (25.0 MB)" in answer["content"] and "didn't read error.png" in answer["content"]
            assert linked_sources(answer["content"])
            assert fake.downloads == [script["url"].split(str(fake.port), 1)[1]], "only the code file was fetched"
            asked = next(q for q in platform.commands.questions.recent() if "stop at 3" in q.text)
            assert "loop.py:\n```\nfor n in range(10):" in asked.text

    asyncio.run(scenario())


def test_a_forum_the_bot_cannot_post_in_is_named_at_startup(mentor: MentorApp, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.WARNING, logger="adapters.discord_bot.platform")
    routes = FORUM_MODE | {str(LOCKED_FORUM): {"mode": "forum"}, "812345678901234567": {"mode": "forum"}}

    async def scenario() -> None:
        async with connected(mentor, channels=routes):
            pass

    asyncio.run(scenario())
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"#locked ({LOCKED_FORUM}" in line and "Send Messages In Threads" in line for line in warned), warned
    assert any("812345678901234567" in line and "cannot see it" in line for line in warned), warned
    assert not any(f"({FORUM}," in line for line in warned), "the forum the bot may post in is fine"
