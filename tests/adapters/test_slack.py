"""The Slack adapter against a local fake Slack: real Bolt, real slack_sdk, a real MentorApp
over the example course with the packaged SmolLM2."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest

from adapters.slack import SlackPlatform, create_platform
from adapters.slack.events import BotIdentity, event_key, thread_turns, to_plain, to_question
from adapters.slack.feedback import Reaction, to_reaction
from adapters.slack.render import SECTION_LIMIT, ZWJ, escape, render_answer, render_line, split_sections
from bot.app import MentorApp
from bot.config.sections import SlackSettings
from bot.errors import PlatformError
from bot.service.commands import HELP, ChatCommands
from bot.store.history import RunRecord
from models import Answer, Citation, Question, Turn
from tests.adapters.fake_slack import BOT_ID, BOT_USER, TEAM, WORKSPACE_URL, FakeSlack, event_body, reaction, signed_headers
from tests.conftest import example_course_app, free_port, until

SECRET = "test-signing-secret"
BASE_URL = "https://cs101.example.edu/notes"
QUESTION = "what does break do in a loop?"


@pytest.fixture(scope="module")
def mentor(tmp_path_factory: pytest.TempPathFactory):
    app = example_course_app(tmp_path_factory.mktemp("slack"), base_url=BASE_URL, report_channel="CREPORTS")
    yield app
    app.close()


@dataclass
class Slack:
    fake: FakeSlack
    platform: SlackPlatform
    commands: ChatCommands
    settings: SlackSettings

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}{self.settings.path}"


Scenario = Callable[[Slack], Awaitable[None]]


def run_slack(mentor: MentorApp, scenario: Scenario, *, answer: dict[str, Any] | None = None, **slack: Any) -> None:
    """Start a fake Slack and the platform against it, run `scenario`, then stop both.

    `answer` overrides answer settings, `slack` the Slack settings.
    """

    async def main() -> None:
        fake = FakeSlack()
        await fake.start()
        options: dict[str, Any] = dict(
            bot_token="xoxb-test", app_token="xapp-test", signing_secret=SECRET, api_url=fake.api_url,
            port=free_port(), instructors=["UPROF"],
        )
        settings = SlackSettings(**(options | slack))
        commands = ChatCommands(mentor)
        update: dict[str, Any] = {"slack": settings, "answer": mentor.settings.answer.model_copy(update=answer or {})}
        platform = create_platform(mentor.settings.model_copy(update=update), commands)
        assert platform is not None
        try:
            await platform.start()
            await scenario(Slack(fake, platform, commands, settings))
        finally:
            await platform.stop()
            await fake.stop()

    asyncio.run(main())


def mention(text: str, ts: str, channel: str = "CGENERAL", **extra: Any) -> dict[str, Any]:
    return {"type": "app_mention", "user": "USTUDENT", "text": text, "ts": ts, "channel": channel, "event_ts": ts, **extra}


def answers_in(fake: FakeSlack, channel: str) -> list[dict[str, Any]]:
    """Final answers (chat.update with blocks) in a channel."""
    return [call.args for call in fake.of("chat.update") if call.args.get("channel") == channel and call.args.get("blocks")]


def block_text(message: dict[str, Any]) -> str:
    return "\n".join(block.get("text", {}).get("text", "") for block in message.get("blocks") or [])


def slash(fake: FakeSlack, text: str, user: str = "USTUDENT") -> dict[str, Any]:
    return {
        "token": "legacy", "team_id": TEAM, "channel_id": "CGENERAL", "user_id": user, "user_name": user.lower(),
        "command": "/mentor", "text": text, "response_url": fake.response_url(), "trigger_id": "t1", "api_app_id": "A1",
    }


# --- over the network -------------------------------------------------------------------


def test_a_mention_is_answered_once_in_its_thread_with_a_linked_source(mentor: MentorApp) -> None:
    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        assert slack.platform.is_connected()
        event = event_body(mention(f"<@{BOT_USER}> {QUESTION}", "1700000000.000100"), "Ev1")
        sent = time.monotonic()
        await fake.send_envelope("events_api", event)
        placeholder = await fake.wait_for(lambda: fake.of("chat.postMessage"), timeout=5)
        assert placeholder[0].at - sent < 1.0, "the asker sees within a second that the question was taken"
        await fake.wait_for(lambda: answers_in(fake, "CGENERAL"))
        await fake.send_envelope("events_api", event, retry_attempt=1)
        await slack.platform.stop()
        assert not slack.platform.is_connected()

        posts = fake.of("chat.postMessage")
        assert len(posts) == 1, "the retried delivery is not answered again"
        assert posts[0].args["thread_ts"] == "1700000000.000100"
        assert "Looking through the course materials" in posts[0].args["text"]
        (answer,) = answers_in(fake, "CGENERAL")
        assert answer["ts"] == "1700000100.000001", "the answer replaces the placeholder"
        assert f"<{BASE_URL}/" in block_text(answer) and "|" in block_text(answer)
        assert "*Sources*" in block_text(answer) or "*See also*" in block_text(answer)

    run_slack(mentor, scenario)


def test_http_events_are_verified_and_a_retry_is_answered_once(mentor: MentorApp) -> None:
    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        assert slack.platform.is_connected(), "the events endpoint listens"
        body = json.dumps(event_body(mention(f"<@{BOT_USER}> {QUESTION}", "1700000000.000200"), "Ev2"))
        async with aiohttp.ClientSession() as http:
            forged = signed_headers("not-the-secret", body)
            async with http.post(slack.events_url, data=body, headers=forged) as response:
                assert response.status == 401
            stale = signed_headers(SECRET, body, timestamp=int(time.time()) - 600)
            async with http.post(slack.events_url, data=body, headers=stale) as response:
                assert response.status == 401
            assert not fake.of("chat.postMessage"), "an unverified request is never answered"

            async with http.post(slack.events_url, data=body, headers=signed_headers(SECRET, body)) as response:
                assert response.status == 200
            async with http.post(slack.events_url, data=body, headers=signed_headers(SECRET, body, retry=1)) as response:
                assert response.status == 200 and await response.text() == ""
        await fake.wait_for(lambda: answers_in(fake, "CGENERAL"))
        await slack.platform.stop()
        assert len(fake.of("chat.postMessage")) == 1
        assert len(answers_in(fake, "CGENERAL")) == 1

    run_slack(mentor, scenario, mode="http")


def test_a_dm_is_answered_and_bots_are_not(mentor: MentorApp) -> None:
    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        dm = {"type": "message", "channel": "DSTUDENT", "channel_type": "im", "text": QUESTION}
        ignored = [
            dm | {"ts": "1700000000.000301", "bot_id": "BOTHER", "subtype": "bot_message", "user": None},
            dm | {"ts": "1700000000.000302", "user": "UOTHERBOT", "bot_id": "BOTHER"},
            dm | {"ts": "1700000000.000303", "user": BOT_USER, "bot_id": BOT_ID},
            dm | {"ts": "1700000000.000304", "user": "USTUDENT", "channel": "CGENERAL", "channel_type": "channel"},
            dm | {"ts": "1700000000.000305", "user": "USTUDENT", "subtype": "message_changed"},
        ]
        for number, event in enumerate(ignored):
            await fake.send_envelope("events_api", event_body(event, f"EvBot{number}"))
        await fake.send_envelope("events_api", event_body(dm | {"ts": "1700000000.000310", "user": "USTUDENT"}, "EvDm"))
        await fake.wait_for(lambda: answers_in(fake, "DSTUDENT"))
        await slack.platform.stop()
        posts = fake.of("chat.postMessage")
        assert [(p.args["channel"], p.args["thread_ts"]) for p in posts] == [("DSTUDENT", "1700000000.000310")]
        assert f"<{BASE_URL}/" in block_text(answers_in(fake, "DSTUDENT")[0])

    run_slack(mentor, scenario)


def test_a_thread_follow_up_reads_the_earlier_turns(mentor: MentorApp) -> None:
    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        parent = "1700000000.000400"
        fake.threads[parent] = [
            {"ts": parent, "user": "USTUDENT", "text": f"<@{BOT_USER}> {QUESTION}"},
            {"ts": "1700000000.000401", "user": BOT_USER, "bot_id": BOT_ID, "text": "It leaves the loop at once."},
            {"ts": "1700000000.000402", "user": "USTUDENT", "text": f"<@{BOT_USER}> and what does continue do?"},
        ]
        event = mention(f"<@{BOT_USER}> and what does continue do?", "1700000000.000402", thread_ts=parent)
        await fake.send_envelope("events_api", event_body(event, "EvThread"))
        await fake.wait_for(lambda: answers_in(fake, "CGENERAL"))
        (replies,) = fake.of("conversations.replies")
        assert replies.args["channel"] == "CGENERAL" and replies.args["ts"] == parent
        assert fake.of("chat.postMessage")[0].args["thread_ts"] == parent

    run_slack(mentor, scenario)


def test_history_turns_zero_answers_a_follow_up_without_reading_the_thread(mentor: MentorApp) -> None:
    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        parent = "1700000000.000450"
        fake.threads[parent] = [{"ts": parent, "user": "USTUDENT", "text": f"<@{BOT_USER}> {QUESTION}"}]
        event = mention(f"<@{BOT_USER}> and what does continue do?", "1700000000.000451", thread_ts=parent)
        await fake.send_envelope("events_api", event_body(event, "EvNoHistory"))
        await fake.wait_for(lambda: answers_in(fake, "CGENERAL"))
        assert fake.of("conversations.replies") == []

    run_slack(mentor, scenario, answer={"history_turns": 0})


def test_empty_and_overlong_mentions_get_one_line_back(mentor: MentorApp) -> None:
    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        await fake.send_envelope("events_api", event_body(mention(f"<@{BOT_USER}>", "1700000000.000500"), "EvEmpty"))
        long_question = "why " * 2000
        await fake.send_envelope("events_api", event_body(mention(f"<@{BOT_USER}> {long_question}", "1700000000.000501"), "EvLong"))
        await slack.platform.stop()
        help_post = next(p for p in fake.of("chat.postMessage") if p.args["thread_ts"] == "1700000000.000500")
        assert help_post.args["text"] == escape(HELP)
        (refusal,) = [u.args for u in fake.of("chat.update")]
        assert refusal["text"].startswith(":warning:") and "\n" not in refusal["text"]
        assert "4000" in refusal["text"] or "4,000" in refusal["text"]

    run_slack(mentor, scenario)


def test_a_rate_limited_post_is_retried_after_retry_after(mentor: MentorApp) -> None:
    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        fake.rate_limited["chat.postMessage"] = 1
        await fake.send_envelope("events_api", event_body(mention(f"<@{BOT_USER}> {QUESTION}", "1700000000.000600"), "EvRate"))
        await fake.wait_for(lambda: answers_in(fake, "CGENERAL"))
        first, second = fake.of("chat.postMessage")
        assert second.at - first.at >= 1.0, "Retry-After was honoured"
        assert len(answers_in(fake, "CGENERAL")) == 1

    run_slack(mentor, scenario)


def test_reactions_on_an_answer_are_votes_counted_once(mentor: MentorApp) -> None:
    async def scenario(slack: Slack) -> None:
        fake, questions = slack.fake, slack.commands.questions
        asked = "1700000000.000700"
        await fake.send_envelope("events_api", event_body(mention(f"<@{BOT_USER}> {QUESTION}", asked), "EvVote"))
        offered = await fake.wait_for(lambda: len(fake.of("reactions.add")) == 2 and fake.of("reactions.add"))
        (answer,) = answers_in(fake, "CGENERAL")
        ts = answer["ts"]
        assert [(c.args["channel"], c.args["timestamp"], c.args["name"]) for c in offered] == [
            ("CGENERAL", ts, "+1"),
            ("CGENERAL", ts, "-1"),
        ], "the bot puts both vote reactions under its answer"
        question_id = questions.question_for_message("slack", f"CGENERAL:{ts}")
        assert question_id is not None

        def votes() -> list[dict[str, Any]]:
            return [f.to_json() for f in questions.feedback() if f.question.id == question_id]

        ignored = [
            reaction("reaction_added", "+1", "CGENERAL", ts, user=BOT_USER),  # the bot's own
            reaction("reaction_added", "tada", "CGENERAL", ts),
            reaction("reaction_added", "+1", "CGENERAL", asked),  # the question, not the answer
            reaction("reaction_added", "+1", "CGENERAL", ts) | {"item": {"type": "file", "file": "F1"}},
        ]
        for n, event in enumerate(ignored):
            await fake.send_envelope("events_api", event_body(event, f"EvNoise{n}"))
        up = event_body(reaction("reaction_added", "+1", "CGENERAL", ts), "EvUp")
        await fake.send_envelope("events_api", up)
        await fake.send_envelope("events_api", event_body(reaction("reaction_added", "-1::skin-tone-3", "CGENERAL", ts, user="UTA"), "EvDown"))
        await until(lambda: len(votes()) == 2)
        by_user = {vote["user"]: vote for vote in votes()}
        student = by_user["USTUDENT"]
        assert (student["vote"], student["platform"], student["course"], student["question"]) == ("up", "slack", "cs101", QUESTION)
        assert student["citations"] and all(f"<{c['url']}|" in block_text(answer) for c in student["citations"])
        assert by_user["UTA"]["vote"] == "down"

        await fake.send_envelope("events_api", event_body(reaction("reaction_removed", "+1", "CGENERAL", ts), "EvUnUp"))
        await until(lambda: [vote["user"] for vote in votes()] == ["UTA"])
        await fake.send_envelope("events_api", up, retry_attempt=1)  # Slack redelivers the old "added"
        await slack.platform.stop()
        assert [(vote["user"], vote["vote"]) for vote in votes()] == [("UTA", "down")], "the retry was not counted again"

    run_slack(mentor, scenario)


def test_an_answer_whose_update_never_reaches_slack_is_posted_anew_exactly_once(mentor: MentorApp) -> None:
    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        fake.unreachable["chat.update"] = 100
        await fake.send_envelope("events_api", event_body(mention(f"<@{BOT_USER}> {QUESTION}", "1700000000.000900"), "EvCut"))
        await fake.wait_for(lambda: len(fake.of("chat.postMessage")) == 2 and len(fake.of("reactions.add")) == 2)
        await slack.platform.stop()
        placeholder, answer = fake.of("chat.postMessage")
        assert answer.args["thread_ts"] == "1700000000.000900" and f"<{BASE_URL}/" in block_text(answer.args)
        assert "Looking through" in placeholder.args["text"]
        (answer_ts,) = [ts for ts, kept in fake.messages.items() if kept["text"] == answer.args["text"]]
        (deleted,) = fake.of("chat.delete")
        assert deleted.args["ts"] == "1700000100.000001" and list(fake.messages) == [answer_ts], (
            "the placeholder the update never reached is removed: the thread holds only the answer"
        )
        assert {call.args["timestamp"] for call in fake.of("reactions.add")} == {answer_ts}, "the votes go under the answer"

    run_slack(mentor, scenario)


def test_an_update_that_landed_but_lost_its_reply_is_not_posted_again(mentor: MentorApp) -> None:
    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        fake.replies_lost["chat.update"] = 100
        await fake.send_envelope("events_api", event_body(mention(f"<@{BOT_USER}> {QUESTION}", "1700000000.000910"), "EvLost"))
        await fake.wait_for(lambda: len(fake.of("reactions.add")) == 2)
        await slack.platform.stop()
        assert len(fake.of("chat.postMessage")) == 1, "only the placeholder: the answer is in it"
        (kept,) = fake.messages.values()
        assert kept["text"] == fake.of("chat.update")[-1].args["text"] and "Looking through" not in kept["text"]
        assert fake.of("conversations.replies"), "the placeholder was read back before deciding"
        assert [call.args["timestamp"] for call in fake.of("reactions.add")] == [kept["ts"]] * 2

    run_slack(mentor, scenario)


def test_without_the_reactions_scope_answers_still_go_out(mentor: MentorApp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="adapters.slack.feedback")

    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        fake.errors["reactions.add"] = "missing_scope"
        for n in range(2):
            event = mention(f"<@{BOT_USER}> {QUESTION}", f"1700000000.00080{n}")
            await fake.send_envelope("events_api", event_body(event, f"EvScope{n}"))
        await fake.wait_for(lambda: len(answers_in(fake, "CGENERAL")) == 2)
        await slack.platform.stop()
        assert len(fake.of("reactions.add")) == 2, "one refused try per answer"

    run_slack(mentor, scenario)
    told = [record for record in caplog.records if "reactions:write" in record.getMessage()]
    assert len(told) == 1 and told[0].levelno == logging.INFO, "said once, quietly"


def test_mentor_ask_is_private_and_status_and_usage_answer(mentor: MentorApp) -> None:
    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        ack = await fake.send_envelope("slash_commands", slash(fake, f"ask {QUESTION}"))
        assert "Looking through the course materials" in ack["payload"]["text"]
        (answer,) = await fake.wait_for(lambda: fake.of("respond"))
        assert answer.args["response_type"] == "ephemeral"
        assert f"<{BASE_URL}/" in block_text(answer.args)
        assert not fake.of("chat.postMessage"), "nothing is posted to the channel"

        ack = await fake.send_envelope("slash_commands", slash(fake, "status"))
        status = await fake.wait_for(lambda: fake.of("respond")[1:])
        assert "cs101:" in status[0].args["text"] and status[0].args["response_type"] == "ephemeral"

        ack = await fake.send_envelope("slash_commands", slash(fake, "frobnicate"))
        assert "/mentor ask" in ack["payload"]["text"]

    run_slack(mentor, scenario)


def test_mentor_reindex_is_for_instructors_only(mentor: MentorApp) -> None:
    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        await fake.send_envelope("slash_commands", slash(fake, "reindex"))
        (refusal,) = await fake.wait_for(lambda: fake.of("respond"))
        assert refusal.args["response_type"] == "ephemeral"
        assert "Only instructors" in refusal.args["text"]

        started = time.monotonic()
        ack = await fake.send_envelope("slash_commands", slash(fake, "reindex cs101", user="UPROF"))
        assert time.monotonic() - started < 3.0
        assert "Reindexing cs101…" in ack["payload"]["text"]
        report = (await fake.wait_for(lambda: fake.of("respond")[1:]))[0]
        assert report.args["response_type"] == "ephemeral"
        assert "slash command by uprof" in report.args["text"]

    run_slack(mentor, scenario)


def test_scheduled_reports_go_to_the_course_report_channel(mentor: MentorApp) -> None:
    async def scenario(slack: Slack) -> None:
        (sink,) = slack.commands.report_sinks
        record = RunRecord(1, "cs101", "schedule", "schedule", datetime.now(timezone.utc), 1.0, "error", None, "disk <!channel> full")
        await sink(mentor.course("cs101"), record)
        await sink(mentor.course("cs101").model_copy(update={"report_channel": None}), record)
        (post,) = slack.fake.of("chat.postMessage")
        assert post.args["channel"] == "CREPORTS"
        assert "cs101" in post.args["text"] and "<!channel>" not in post.args["text"]

        (digest,) = slack.commands.digest_sinks
        await digest(mentor.course("cs101"), "Digest for cs101: 4 questions <!here>")
        await digest(mentor.course("cs101").model_copy(update={"report_channel": "123456789012345678"}), "for Discord")
        (_, posted) = slack.fake.of("chat.postMessage")
        assert posted.args["channel"] == "CREPORTS" and "Digest for cs101: 4 questions" in posted.args["text"]
        assert "<!here>" not in posted.args["text"]

    run_slack(mentor, scenario)


def test_missing_or_rejected_tokens_name_the_setting(mentor: MentorApp) -> None:
    commands = ChatCommands(mentor)
    assert create_platform(mentor.settings, commands) is None, "no bot token: Slack is off"

    async def start(fake: FakeSlack | None, **slack: Any) -> str:
        settings = SlackSettings(bot_token="xoxb-test", api_url=fake.api_url if fake else "http://127.0.0.1:9/api/", **slack)
        with pytest.raises(PlatformError) as refused:
            await SlackPlatform(settings, commands).start()
        return str(refused.value)

    async def main() -> None:
        assert "MENTOR_SLACK__APP_TOKEN" in await start(None)
        assert "MENTOR_SLACK__SIGNING_SECRET" in await start(None, mode="http")
        fake = FakeSlack()
        await fake.start()
        fake.auth_error = "invalid_auth"
        try:
            message = await start(fake, app_token="xapp-test")
        finally:
            await fake.stop()
        assert "MENTOR_SLACK__BOT_TOKEN" in message and "invalid_auth" in message

    asyncio.run(main())


# --- rendering and translation, no network ------------------------------------------------


def citation(n: int = 1, url: str | None = f"{BASE_URL}/week1/loops.md#break", see_also: bool = False) -> Citation:
    return Citation(n=n, title="Loops", source="week1/loops.md", headings=("break",), url=url, see_also=see_also)


def test_nothing_the_model_or_materials_write_can_ping() -> None:
    text = "Hey <!channel> and <!here|here> <!subteam^S123> <@U123> @here @channel @Everyone & 1 < 2 > 0"
    message = render_answer(Answer(text=text, citations=[citation()], grounded=True))
    for rendered in (message.text, block_text({"blocks": message.blocks})):
        for ping in ("<!channel>", "<!here", "<!subteam", "<@U123>", "@here", "@channel", "@Everyone"):
            assert ping not in rendered
        assert f"@{ZWJ}here" in rendered and "&lt;!channel&gt;" in rendered and "1 &lt; 2 &gt; 0" in rendered
        assert "&amp; 1" in rendered
    assert all(block["text"]["verbatim"] for block in message.blocks if block["type"] == "section")
    assert render_line("boom <@U1> @here").text == f"boom &lt;@U1&gt; @{ZWJ}here"


def test_citations_link_when_published_and_read_plainly_when_not() -> None:
    message = render_answer(
        Answer(text="It stops the loop [1].", citations=[citation(), citation(2, url=None), citation(3, see_also=True)], grounded=True)
    )
    sources = block_text({"blocks": message.blocks})
    assert f"[1] <{BASE_URL}/week1/loops.md#break|Loops › break>" in sources
    assert "[2] Loops › break" in sources and "*Sources*" in sources
    assert "*See also*\n[3] <" in sources
    odd = citation(url="https://x.example/a|b>c&d")
    assert render_answer(Answer(text="x", citations=[odd], grounded=True)).text.count("<https://x.example/a%7Cb%3Ec&amp;d|") == 1
    assert "javascript" not in render_answer(Answer(text="x", citations=[citation(url="javascript:alert(1)")], grounded=True)).text


def test_kinds_read_clearly() -> None:
    not_covered = render_answer(Answer(text="I couldn't find this.", grounded=False, kind="not_covered"))
    assert "Not covered by the course materials" in not_covered.text
    passages = render_answer(Answer(text="passages", citations=[citation()], grounded=True, kind="retrieval_only"))
    assert passages.blocks[0]["type"] == "context" and "not a written answer" in passages.text
    assert "not a written answer" not in render_answer(Answer(text="ok", grounded=True)).text


def test_long_answers_split_at_paragraphs_with_balanced_fences() -> None:
    code = "\n".join(f"    print({i} < {i + 1})" for i in range(400))
    text = "\n\n".join(["Intro paragraph. " * 40, "```python\n" + code + "\n```", "Outro. " * 600, "```\nunclosed = True"])
    pieces = split_sections(text)
    assert len(pieces) > 3
    assert all(len(piece) <= SECTION_LIMIT for piece in pieces)
    assert all(piece.count("```") % 2 == 0 for piece in pieces), "every piece closes the fences it opens"
    assert pieces[0].startswith("Intro paragraph."), "a paragraph is not cut when it fits"
    assert "python" not in "".join(pieces), "the language hint is dropped"
    assert "print(0 &lt; 1)" in pieces[1]
    assert pieces[-1].endswith("unclosed = True\n```")
    message = render_answer(Answer(text="word " * 20_000, grounded=True))
    assert len(message.text) <= 40_000 and all(len(b["text"]["text"]) <= SECTION_LIMIT for b in message.blocks)
    assert len(message.blocks) <= 50


def test_markdown_becomes_mrkdwn() -> None:
    assert split_sections("## Loops\n\nUse **break** to stop.") == ["*Loops*\n\nUse *break* to stop."]


def test_slack_markup_reads_as_plain_text() -> None:
    text = f"<@{BOT_USER}> what about <@U2|ann> in <#C1|general>, <https://a.example|this> &amp; 1 &lt; 2 <!here>?"
    assert to_plain(text, BOT_USER) == "what about @ann in #general, this & 1 < 2 @here?"
    assert to_plain(f"<@{BOT_USER}>  ", BOT_USER) == ""


def test_a_mention_event_becomes_a_question_without_a_network() -> None:
    bot = BotIdentity(BOT_USER, BOT_ID, TEAM)
    event = {"type": "app_mention", "user": "USTUDENT", "text": f"<@{BOT_USER}> what does <#C1|general> say about loops?",
             "channel": "C1", "ts": "2.0", "thread_ts": "1.0"}
    earlier = (Turn(role="user", text="first question"),)
    assert to_question(event, bot, "cs101", earlier) == Question(
        text="what does #general say about loops?", course="cs101", asker="USTUDENT", platform="slack", history=earlier
    )
    assert to_question(event | {"text": f"<@{BOT_USER}>  "}, bot, "cs101") is None, "a bare mention gets the help text"


def test_reactions_read_as_votes() -> None:
    bot = BotIdentity(BOT_USER, BOT_ID, TEAM)
    assert to_reaction(reaction("reaction_added", "thumbsup", "C1", "1.5"), bot) == Reaction("C1:1.5", "USTUDENT", 1)
    assert to_reaction(reaction("reaction_removed", "+1::skin-tone-6", "C1", "1.5"), bot) == Reaction("C1:1.5", "USTUDENT", 1)
    assert to_reaction(reaction("reaction_added", "thumbsdown", "C1", "1.5"), bot) == Reaction("C1:1.5", "USTUDENT", -1)
    assert to_reaction(reaction("reaction_added", "-1", "C1", "1.5", user=BOT_USER), bot) is None
    assert to_reaction(reaction("reaction_added", "heart", "C1", "1.5"), bot) is None
    assert to_reaction(reaction("reaction_added", "+1", "C1", "1.5") | {"item": {"type": "file"}}, bot) is None


def test_event_keys_and_thread_turns() -> None:
    body = event_body(mention("hi", "1.000001"), "Ev9")
    assert event_key(body) == f"slack:{TEAM}:Ev9"
    assert event_key(body | {"event_id": None}) == f"slack:{TEAM}:CGENERAL1.000001"
    vote = event_body(reaction("reaction_added", "+1", "C1", "1.5") | {"event_ts": "2.000001"}, "")
    assert event_key(vote) == f"slack:{TEAM}:2.000001", "a reaction has no channel or ts of its own"
    bot = BotIdentity(BOT_USER, BOT_ID, TEAM)
    messages = [{"ts": f"1.{i:06d}", "user": "U1", "text": f"q{i}"} for i in range(12)]
    messages += [{"ts": "1.000012", "user": BOT_USER, "bot_id": BOT_ID, "text": "an answer &amp; more"}]
    messages += [{"ts": "1.000013", "user": "U1", "text": "now"}, {"ts": "1.000014", "user": BOT_USER, "text": "later"}]
    turns = thread_turns(messages, "1.000013", bot, keep=10)
    assert len(turns) == 10 and turns[0].text == "q3"
    assert thread_turns(messages, "1.000013", bot, keep=0) == ()
    assert [turn.text for turn in thread_turns(messages, "1.000013", bot, keep=2)] == ["q11", "an answer & more"]
    assert (turns[-1].role, turns[-1].text) == ("assistant", "an answer & more")
    assert {turn.role for turn in turns[:-1]} == {"user"}


def test_a_repeat_question_links_the_thread_where_it_was_answered(mentor: MentorApp) -> None:
    repeats_on = mentor.settings.model_copy(update={"answer": mentor.settings.answer.model_copy(update={"repeat_similarity": 0.81})})
    original, mentor.settings = mentor.settings, repeats_on

    async def scenario(slack: Slack) -> None:
        fake = slack.fake
        first, second = "1700000800.000100", "1700000900.000100"
        await fake.send_envelope("events_api", event_body(mention(f"<@{BOT_USER}> how do I stop a loop before it ends?", first), "EvRep1"))
        await fake.wait_for(lambda: answers_in(fake, "CGENERAL"))
        await fake.send_envelope("events_api", event_body(mention(f"<@{BOT_USER}> How do I stop a loop before it ends", second), "EvRep2"))
        answered = await fake.wait_for(lambda: len(answers_in(fake, "CGENERAL")) == 2 and answers_in(fake, "CGENERAL"))
        assert "asked earlier today" not in block_text(answered[0])
        link = f"{WORKSPACE_URL}archives/CGENERAL/p{first.replace('.', '')}"
        assert block_text(answered[1]).startswith(f"A similar question was asked earlier today: {link}")

    try:
        run_slack(mentor, scenario)
    finally:
        mentor.settings = original
