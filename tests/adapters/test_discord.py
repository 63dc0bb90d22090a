"""The Discord adapter: the real discord.py client against a local fake Discord, answering
from a real MentorApp (example course, packaged SmolLM2)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

import discord
import pytest
from pydantic import SecretStr

from adapters.discord_bot import create_platform
from adapters.discord_bot.feedback import DOWN, UP, vote_of
from adapters.discord_bot.platform import DiscordPlatform
from adapters.discord_bot.render import (
    MAX_MESSAGE,
    NOT_COVERED_MARK,
    render_answer,
    split_message,
    strip_mention,
    thread_name,
    to_question,
    to_turn,
)
from bot.app import MentorApp
from bot.config.sections import DiscordSettings
from bot.config.settings import Settings
from bot.errors import PlatformError
from bot.service.commands import HELP, ChatCommands
from bot.store.history import RunRecord
from models import Answer, Citation, Course, Question, Turn
from tests.adapters.fake_discord import (
    APP,
    BOT,
    CHANNEL,
    DM,
    GUILD,
    MANAGE_GUILD,
    STUDENT,
    TA_ROLE,
    THREAD,
    FakeDiscord,
    mention,
    message,
    reaction,
    slash,
    user,
)
from tests.conftest import EXAMPLE_COURSE, example_course_app, until

BASE_URL = "https://cs101.example.edu/notes"
NO_PINGS = {"parse": []}
NO_PINGS_IN_REPLY = {"parse": [], "replied_user": False}


@pytest.fixture(scope="module")
def mentor(tmp_path_factory: pytest.TempPathFactory):
    app = example_course_app(tmp_path_factory.mktemp("discord"), base_url=BASE_URL)
    yield app
    app.close()


@asynccontextmanager
async def connected(mentor: MentorApp, **discord: Any) -> AsyncIterator[tuple[FakeDiscord, DiscordPlatform]]:
    fake = FakeDiscord()
    await fake.start()
    settings = mentor.settings.model_copy(
        update={"discord": DiscordSettings(token=SecretStr("bot-token"), api_url=fake.api_url, gateway_url=fake.gateway_url, **discord)}
    )
    platform = create_platform(settings, ChatCommands(mentor))
    assert platform is not None
    try:
        await platform.start()
        yield fake, platform
    finally:
        await platform.stop()
        await fake.stop()


def linked_sources(content: str) -> bool:
    """The tiny model may cite nothing, and then the best passage comes as "See also"."""
    return ("**Sources**" in content or "**See also**" in content) and f"](<{BASE_URL}/" in content


def answers_in(fake: FakeDiscord, channel: int) -> list[dict[str, Any]]:
    return [c.body for c in fake.posted(f"/channels/{channel}/messages")]


def test_a_channel_mention_opens_a_thread_and_answers_there_with_linked_sources(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with connected(mentor, guilds=[GUILD]) as (fake, _):
            question = mention("what does break do in a loop?")
            beats = fake.heartbeats
            await fake.dispatch("MESSAGE_CREATE", question)
            thread = int(question["id"])  # a thread opened on a message takes the message's id
            await fake.wait_for(lambda: answers_in(fake, thread))
            beats_while_answering = fake.heartbeats - beats
            await asyncio.sleep(0.3)

            [opened] = fake.posted(f"/channels/{CHANNEL}/messages/{thread}/threads")
            assert opened.body["name"] == "what does break do in a loop?"
            [answer] = answers_in(fake, thread)
            assert linked_sources(answer["content"])
            assert answer["allowed_mentions"] == NO_PINGS
            assert fake.posted(f"/channels/{thread}/typing")
            assert beats_while_answering >= 2, "heartbeats went on while the model was writing"
            synced = [c.path for c in fake.calls if c.method == "PUT" and c.path.startswith("/applications/")]
            assert synced == [f"/applications/{APP}/guilds/{GUILD}/commands"]

    asyncio.run(scenario())


def test_a_replayed_event_is_answered_once_and_bots_are_ignored(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with connected(mentor) as (fake, _):
            await fake.dispatch("MESSAGE_CREATE", mention("what is a set?", channel=THREAD, author_id=BOT, bot=True))
            question = mention("how do I make an empty set?", channel=THREAD)
            await fake.dispatch("MESSAGE_CREATE", question)
            await fake.wait_for(lambda: answers_in(fake, THREAD))
            fake.replay = [("MESSAGE_CREATE", question)]
            await fake.reconnect()
            await fake.wait_for(lambda: fake.resumes == 1)
            await asyncio.sleep(1.0)
            assert len(answers_in(fake, THREAD)) == 1
            assert fake.identifies == 1, "the client resumed rather than starting a new session"

            await fake.dispatch("MESSAGE_CREATE", message(DM, user(STUDENT, "student"), "what is a set?", guild=False))
            await fake.wait_for(lambda: answers_in(fake, DM))
            assert not fake.posted("/threads"), "a DM is answered in place, no mention needed"

    asyncio.run(scenario())


def test_a_mention_in_a_thread_answers_there_with_its_earlier_messages(mentor: MentorApp) -> None:
    first = message(CHANNEL, user(STUDENT, "student"), f"<@{BOT}> what does break do?")
    fake_history = [
        message(THREAD, user(BOT, "mentor", True), "It leaves the loop [1].\n\n**Sources**\n[1] Loops"),
        message(THREAD, user(BOT, "mentor", True), "", kind=21, referenced=first),
    ]

    async def scenario() -> None:
        async with connected(mentor) as (fake, _):
            fake.history[THREAD] = fake_history
            empty = mention("", channel=THREAD)
            await fake.dispatch("MESSAGE_CREATE", empty)
            question = mention("and in a while loop?", channel=THREAD)
            await fake.dispatch("MESSAGE_CREATE", question)
            await fake.wait_for(lambda: fake.posted(f"/channels/{THREAD}/typing"))
            # Leaving the block stops the platform while the model is still writing.

        help_reply, answer = answers_in(fake, THREAD)
        assert help_reply["content"] == HELP and help_reply["message_reference"]["message_id"] == int(empty["id"])
        assert linked_sources(answer["content"]) and answer["allowed_mentions"] == NO_PINGS, "stop() let it finish"
        [read] = [c for c in fake.calls if c.method == "GET" and c.path == f"/channels/{THREAD}/messages"]
        assert read.query["before"] == question["id"] and int(read.query["limit"]) <= 10
        assert not fake.posted("/threads"), "no thread inside a thread"

    asyncio.run(scenario())


def test_without_thread_permission_it_replies_and_a_rate_limited_send_is_retried(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with connected(mentor) as (fake, _):
            fake.fail("POST", "/threads", 403, {"message": "Missing Permissions", "code": 50013})
            fake.fail("POST", f"/channels/{CHANNEL}/messages", 429, {"message": "You are being rate limited.", "retry_after": 0.3, "global": False})
            question = mention("what does break do in a loop?")
            await fake.dispatch("MESSAGE_CREATE", question)
            await fake.wait_for(lambda: len(answers_in(fake, CHANNEL)) == 2)

            limited, sent = answers_in(fake, CHANNEL)
            assert limited == sent, "discord.py sent the same reply again after retry_after"
            assert sent["message_reference"]["message_id"] == int(question["id"])
            assert sent["allowed_mentions"] == NO_PINGS_IN_REPLY
            assert linked_sources(sent["content"])

    asyncio.run(scenario())


def test_slash_commands_answer_ephemerally_and_only_instructors_reindex(mentor: MentorApp) -> None:
    ephemeral = 64

    async def scenario() -> None:
        async with connected(mentor, instructor_roles=[TA_ROLE]) as (fake, platform):
            [synced] = [c for c in fake.calls if c.method == "PUT"]
            assert synced.path == f"/applications/{APP}/commands"
            assert sorted(c["name"] for c in synced.body) == ["ask", "reindex", "status"]

            await fake.dispatch("INTERACTION_CREATE", slash("reindex", {}, uid=STUDENT))
            await fake.wait_for(lambda: fake.posted("/callback"))
            [refusal] = fake.posted("/callback")
            assert refusal.body["type"] == 4 and refusal.body["data"]["flags"] == ephemeral
            assert "instructors" in refusal.body["data"]["content"]

            by_ta = slash("reindex", {"course": "cs101"}, roles=[TA_ROLE])
            await fake.dispatch("INTERACTION_CREATE", by_ta)
            await fake.wait_for(lambda: fake.posted(f"/webhooks/{APP}/{by_ta['token']}"))
            [deferred] = fake.posted(f"/interactions/{by_ta['id']}/{by_ta['token']}/callback")
            assert deferred.body["type"] == 5 and deferred.body["data"]["flags"] == ephemeral
            [summary] = fake.posted(f"/webhooks/{APP}/{by_ta['token']}")
            assert "slash command by someone on Discord" in summary.body["content"]

            ask = slash("ask", {"question": "how do I make an empty set?"}, permissions=MANAGE_GUILD)
            await fake.dispatch("INTERACTION_CREATE", ask)
            await fake.wait_for(lambda: fake.posted(f"/webhooks/{APP}/{ask['token']}"))
            [answer] = fake.posted(f"/webhooks/{APP}/{ask['token']}")
            assert answer.body["flags"] == ephemeral and linked_sources(answer.body["content"])
            assert answer.body["allowed_mentions"] == {"parse": []}

            status = slash("status", {})
            await fake.dispatch("INTERACTION_CREATE", status)
            await fake.wait_for(lambda: fake.posted(f"/webhooks/{APP}/{status['token']}"))
            [shown] = fake.posted(f"/webhooks/{APP}/{status['token']}")
            assert "cs101:" in shown.body["content"] and shown.body["flags"] == ephemeral

            record = RunRecord(1, "cs101", "schedule", "schedule", datetime.now(timezone.utc), 1.0, "error", None, "disk @everyone full")
            await platform.post_report(Course(name="cs101", sources=(EXAMPLE_COURSE,), report_channel="123456789012345678"), record)
            await platform.post_report(Course(name="cs101", sources=(EXAMPLE_COURSE,), report_channel="C0SLACK"), record)
            [report] = fake.posted("/channels/123456789012345678/messages")
            assert "@\u200beveryone" in report.body["content"] and report.body["allowed_mentions"] == NO_PINGS

    asyncio.run(scenario())


def test_reactions_on_an_answer_are_votes(mentor: MentorApp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="adapters.discord_bot.feedback")

    async def scenario() -> None:
        async with connected(mentor) as (fake, platform):
            assert platform.is_connected()
            questions = platform.commands.questions
            question = mention("what does break do in a loop?", channel=THREAD)
            await fake.dispatch("MESSAGE_CREATE", question)
            await fake.wait_for(lambda: fake.created.get(THREAD) and len(fake.reactions(int(fake.created[THREAD][-1]["id"]))) == 2)
            answer = fake.created[THREAD][-1]
            answer_id = int(answer["id"])
            assert fake.reactions(answer_id) == [UP, DOWN], "the bot offers both votes on its answer"
            question_id = questions.question_for_message("discord", str(answer_id))
            assert question_id is not None

            def votes() -> list[dict[str, Any]]:
                return [f.to_json() for f in questions.feedback() if f.question.id == question_id]

            await fake.dispatch("MESSAGE_REACTION_ADD", reaction(answer_id, UP, uid=BOT))  # the bot's own
            await fake.dispatch("MESSAGE_REACTION_ADD", reaction(answer_id, "🎉"))
            await fake.dispatch("MESSAGE_REACTION_ADD", reaction(int(question["id"]), UP))  # not an answer
            await fake.dispatch("MESSAGE_REACTION_ADD", reaction(answer_id, UP + "🏽"))
            [vote] = await until(votes)
            assert (vote["vote"], vote["platform"], vote["user"]) == ("up", "discord", str(STUDENT))
            assert (vote["course"], vote["question"]) == ("cs101", "what does break do in a loop?")
            assert vote["citations"] and all(f"](<{c['url']}>)" in answer["content"] for c in vote["citations"])

            await fake.dispatch("MESSAGE_REACTION_REMOVE", reaction(answer_id, UP, removed=True))
            await until(lambda: not votes())

            fake.fail("PUT", "/@me", 403, {"message": "Missing Permissions", "code": 50013}, times=2)
            for _ in range(2):
                await fake.dispatch("MESSAGE_CREATE", mention("what does break do in a loop?", channel=THREAD))
            await fake.wait_for(lambda: len(fake.created[THREAD]) == 3 and not fake.failures)
            assert all(linked_sources(m["content"]) for m in fake.created[THREAD][1:]), "a refused reaction spoils no answer"
        assert not votes(), "the bot's own reaction and other emoji never count"
        assert not platform.is_connected()
        told = [record for record in caplog.records if "Add Reactions" in record.getMessage()]
        assert len(told) == 1 and told[0].levelno == logging.INFO, "said once, quietly"

    asyncio.run(scenario())


def test_a_rejected_token_names_the_setting(mentor: MentorApp) -> None:
    async def scenario() -> None:
        fake = FakeDiscord()
        await fake.start()
        fake.fail("GET", "/users/@me", 401, {"message": "401: Unauthorized", "code": 0})
        settings = mentor.settings.model_copy(
            update={"discord": DiscordSettings(token=SecretStr("wrong"), api_url=fake.api_url, gateway_url=fake.gateway_url)}
        )
        platform = create_platform(settings, ChatCommands(mentor))
        with pytest.raises(PlatformError, match="MENTOR_DISCORD__TOKEN"):
            await platform.start()
        await fake.stop()

    asyncio.run(scenario())


def test_no_token_means_no_platform() -> None:
    assert create_platform(Settings(discord=DiscordSettings()), None) is None  # type: ignore[arg-type]


# Rendering: pure functions, no network.


def test_a_long_answer_splits_under_the_limit_with_balanced_code_fences() -> None:
    code = "```python\n" + "\n".join(f"print({n})  # line {n}" for n in range(300)) + "\n```"
    text = "Intro paragraph.\n\n" + code + "\n\n" + "Closing words. " * 200
    messages = split_message(text)
    assert len(messages) > 2 and all(len(m) <= MAX_MESSAGE for m in messages)
    for m in messages:
        assert m.count("```") % 2 == 0, m[:80]
    assert messages[1].startswith("```python\n"), "a code block cut in two reopens with its language"
    assert "".join(messages).count("print(") == 300


def test_rendering_neutralises_mentions_and_links_citations_without_embeds() -> None:
    answer = Answer(
        text="Hey @everyone and @here, <@123456789012345678>: use `break` [1].",
        citations=[
            Citation(n=1, title="Loops", source="week1/loops.md", headings=("Leaving a loop",), url=f"{BASE_URL}/week1/loops.md#leaving"),
            Citation(n=2, title="Sets [draft]", source="week2/sets.pdf", page=3, see_also=True),
        ],
        grounded=True,
    )
    [rendered] = render_answer(answer)
    assert "@everyone" not in rendered and "@here" not in rendered and "<@123456789012345678>" not in rendered
    assert f"[1] [Loops › Leaving a loop](<{BASE_URL}/week1/loops.md#leaving>)" in rendered
    assert "**See also**\n[2] Sets (draft), p. 3" in rendered


def test_not_covered_is_marked() -> None:
    [rendered] = render_answer(Answer(text="I couldn't find this.", grounded=False, kind="not_covered"))
    assert rendered.startswith(NOT_COVERED_MARK) and "Sources" not in rendered


def test_thumbs_read_as_votes() -> None:
    assert vote_of(discord.PartialEmoji(name=UP)) == 1
    assert vote_of(discord.PartialEmoji(name=UP + "🏿")) == 1
    assert vote_of(discord.PartialEmoji(name=DOWN + "\ufe0f")) == -1
    assert vote_of(discord.PartialEmoji(name="❤")) is None
    assert vote_of(discord.PartialEmoji(name="thumbsup", id=1234567890)) is None, "a custom emoji is not a vote"


def test_a_mention_becomes_a_question_without_a_gateway() -> None:
    earlier = (Turn(role="user", text="what is a loop?"),)
    asked = to_question(f"<@{BOT}> and <@!{BOT}> a while loop?", author_id=STUDENT, me=BOT, role_id=None, course="cs101",
                        history=earlier)
    assert asked == Question(text="and a while loop?", course="cs101", asker=str(STUDENT), platform="discord", history=earlier)
    assert to_question("<@&42> why?", author_id=STUDENT, me=BOT, role_id=42, course=None).text == "why?"  # type: ignore[union-attr]
    assert to_question(f"<@{BOT}>", author_id=STUDENT, me=BOT, role_id=None, course="cs101") is None


def test_mentions_threads_and_history_turns() -> None:
    assert strip_mention(f"<@{BOT}> what is <@!{BOT}> a loop?", BOT) == "what is a loop?"
    assert strip_mention("<@&42> hi", BOT, role_id=42) == "hi"
    assert len(thread_name("word " * 100)) <= 80 and thread_name("  \n") == "Question"
    assert to_turn(BOT, True, "It stops [1].\n\n**Sources**\n[1] Loops", BOT).text == "It stops [1]."
    assert to_turn(STUDENT, False, f"<@{BOT}> and sets?", BOT).role == "user"
    assert to_turn(12, True, "another bot", BOT) is None
