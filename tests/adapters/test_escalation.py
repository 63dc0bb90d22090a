"""Issue 18's loop against the fake Slack and the fake Discord, with real slack-bolt and discord.py:
a declined question goes to the Slack TA queue, and a TA's answer comes back to the student's thread."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import create_engine

from adapters.slack.queue_render import ANSWER_IN_THREAD, DISMISS, EDIT, SEND_DRAFT
from bot.app import MentorApp
from bot.errors import PlatformError
from bot.service.commands import ChatCommands
from bot.service.notices import ANSWER_IN_THREAD as CLAIMED
from bot.service.notices import ESCALATED, UNKNOWN_ESCALATION
from bot.store.database import Database
from bot.store.escalations import EscalationStore, NewEscalation
from models import Answer, Citation, EscalationPolicy, Question, ReplyPlace
from rag.answerer import NOT_COVERED
from tests.adapters.escalation_helpers import (
    QUEUE,
    SECRET,
    Running,
    blocks_text,
    ephemerals,
    fakes,
    queue_posts,
    queue_reply,
    queue_updates,
    running,
)
from tests.adapters.fake_discord import CHANNEL, mention
from tests.adapters.fake_slack import BOT_USER, FakeSlack, block_action, event_body, signed_form, view_submission
from tests.conftest import example_course_app, free_port, until

DECLINED = "Who won the 1998 football world cup final?"
STILL_DECLINED = "What is the best pizza topping in Naples?"
"""For tests after one where a TA answered DECLINED: that answer is a verified answer now, and answers it."""
NO_PINGS = {"parse": []}


@pytest.fixture(scope="module")
def mentor(tmp_path_factory: pytest.TempPathFactory):
    app = example_course_app(tmp_path_factory.mktemp("escalation"), escalation=EscalationPolicy(ta_queue=QUEUE))
    yield app
    app.close()


def test_a_discord_students_declined_question_is_answered_from_the_slack_queue_once_after_a_restart(tmp_path: Path) -> None:
    first = example_course_app(tmp_path, escalation=EscalationPolicy(ta_queue=QUEUE))

    async def scenario() -> None:
        async with fakes() as fake:
            question = mention(DECLINED)
            thread = int(question["id"])  # the thread opened on the question takes its id
            async with running(first, fake):
                await fake.discord.dispatch("MESSAGE_CREATE", question)
                await fake.slack.wait_for(lambda: queue_posts(fake.slack))
                [queued] = queue_posts(fake.slack)
                shown = blocks_text(queued)
                assert DECLINED in shown and "Discord thread" in shown and "Student " in shown
                assert "student" not in shown.lower().replace("student ", ""), "the student's name stays out (pseudonymous)"
                assert {EDIT, ANSWER_IN_THREAD, DISMISS} <= set(_action_ids(queued)) and SEND_DRAFT not in _action_ids(queued)
                await fake.discord.wait_for(lambda: len(fake.discord.created.get(thread, [])) == 2)
                assert ESCALATED in fake.discord.created[thread][1]["content"]
                [escalation] = await until(lambda: [e for e in first.escalations.open_ones() if e.queue_ref])
                ts = escalation.queue_ref.split(":")[1]
                await fake.slack.send_envelope("interactive", block_action(ANSWER_IN_THREAD, str(escalation.id), message_ts=ts))
                await fake.slack.wait_for(lambda: ephemerals(fake.slack, "UTA1"))
                assert ephemerals(fake.slack, "UTA1") == [CLAIMED]
            first.close()

            second = MentorApp(first.settings)  # a new process: nothing but the database carries over
            try:
                async with running(second, fake):
                    reply = event_body(queue_reply(ts, "France won, 3-0. @everyone <@&899999999999999999> <!channel>"), "EvTA1")
                    await fake.slack.send_envelope("events_api", reply)
                    await fake.discord.wait_for(lambda: len(fake.discord.created.get(thread, [])) == 3)
                    await fake.slack.send_envelope("events_api", reply, retry_attempt=1)
                    await fake.slack.wait_for(lambda: queue_updates(fake.slack))
                    # A second TA clicks after the first answered: told, and nothing more is sent.
                    await fake.slack.send_envelope("interactive", block_action(EDIT, str(escalation.id), user="UTA2", message_ts=ts))
                    await fake.slack.wait_for(lambda: ephemerals(fake.slack, "UTA2"))
                    await asyncio.sleep(0.3)

                    answers = [c for c in fake.discord.posted(f"/channels/{thread}/messages")][2:]
                    assert len(answers) == 1, "the answer reaches the student once"
                    assert answers[0].body["allowed_mentions"] == NO_PINGS
                    content = answers[0].body["content"]
                    assert "Answer from a TA (Grace Hopper)" in content and "France won, 3-0." in content
                    assert "@everyone" not in content, "neutralised as well as not pinging"
                    [update] = queue_updates(fake.slack)
                    assert "Answered by Grace Hopper" in update["text"]
                    assert "Grace Hopper answered this question first" in ephemerals(fake.slack, "UTA2")[0]
                    assert not fake.slack.of("views.open"), "no modal for a closed question"
                    kept = second.escalations.get(escalation.id)
                    assert kept.status == "answered" and kept.answer.startswith("France won") and kept.answered_by == "Grace Hopper"
            finally:
                second.close()

    asyncio.run(scenario())


def _action_ids(message: dict[str, Any]) -> list[str]:
    blocks = message["blocks"] if isinstance(message["blocks"], list) else json.loads(message["blocks"])
    return [element["action_id"] for block in blocks if block["type"] == "actions" for element in block["elements"]]


DRAFTED = Answer(
    text="`break` leaves the loop at once. @here",
    grounded=True,
    citations=[Citation(n=1, title="Control flow", source="02-control-flow.md", url="https://cs101.example.edu/02-control-flow.html")],
)
SLACK_STUDENT = ReplyPlace(platform="slack", channel="CGENERAL", thread="1700000000.000100")


async def escalate_drafted(app: Running, text: str = "What does break do?") -> Any:
    """A Slack student's question with the bot's draft, as "Ask a TA" on an answer would send it."""
    question = Question(text=text, course="cs101", platform="slack", asker="USTUDENT")
    opened = await app.commands.escalations.escalate(question, DRAFTED, "the student asked for a TA", SLACK_STUDENT)
    assert opened is not None and opened.created and opened.escalation.queue_ref is not None
    return opened.escalation


async def post_interactive(app: Running, payload: dict[str, Any], secret: str = SECRET) -> int:
    body, headers = signed_form(secret, payload)
    async with aiohttp.ClientSession() as http, http.post(app.events_url, data=body, headers=headers) as response:
        return response.status


def student_posts(fake: FakeSlack) -> list[dict[str, Any]]:
    return [c.args for c in fake.of("chat.postMessage") if c.args.get("channel") == "CGENERAL" and c.args.get("thread_ts") == SLACK_STUDENT.thread]


def test_edit_and_send_opens_the_draft_in_a_modal_and_sends_the_edit_to_the_slack_thread(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake, mode="http") as app:
            escalation = await escalate_drafted(app)
            [queued] = [q for q in queue_posts(fake.slack) if "What does break do?" in blocks_text(q)]
            assert _action_ids(queued)[0] == SEND_DRAFT and "Control flow" in blocks_text(queued)
            assert "@here" not in blocks_text(queued), "the draft is escaped in the queue too"

            assert await post_interactive(app, block_action(EDIT, str(escalation.id))) == 200
            [opened] = fake.slack.of("views.open")
            view = opened.args["view"] if isinstance(opened.args["view"], dict) else json.loads(opened.args["view"])
            box = view["blocks"][1]["element"]
            assert box["initial_value"] == DRAFTED.text, "prefilled with the draft"
            edited = "Use `break` to leave the loop; `continue` skips to the next round."
            assert await post_interactive(app, view_submission(view, {"answer": edited})) == 200
            await fake.slack.wait_for(lambda: len(student_posts(fake.slack)) == 2)
            answer = student_posts(fake.slack)[1]
            assert "Answer from a TA (Grace Hopper)" in answer["text"] and "continue" in blocks_text(answer)
            await fake.slack.wait_for(lambda: queue_updates(fake.slack))
            assert "Answered by Grace Hopper" in queue_updates(fake.slack)[0]["text"]

    asyncio.run(scenario())


def test_dismiss_sends_the_optional_note_and_closes_the_queue_message(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake, mode="http") as app:
            escalation = await escalate_drafted(app, "Can I submit late?")
            assert await post_interactive(app, block_action(DISMISS, str(escalation.id), user="UTA2")) == 200
            view = json.loads(fake.slack.of("views.open")[0].args["view"]) if isinstance(fake.slack.of("views.open")[0].args["view"], str) else fake.slack.of("views.open")[0].args["view"]
            assert await post_interactive(app, view_submission(view, {"note": "Ask the instructor by email, please."}, user="UTA2")) == 200
            await fake.slack.wait_for(lambda: queue_updates(fake.slack))
            assert "Dismissed by Alan Turing" in queue_updates(fake.slack)[0]["text"]
            note = student_posts(fake.slack)[-1]
            assert "left a note" in note["text"] and "by email" in note["text"]
            assert mentor.escalations.get(escalation.id).status == "dismissed"

    asyncio.run(scenario())


def test_a_bad_signature_and_an_unknown_id_are_refused(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake, mode="http") as app:
            escalation = await escalate_drafted(app, "Is the quiz open book?")
            assert await post_interactive(app, block_action(SEND_DRAFT, str(escalation.id)), secret="forged") == 401
            assert await post_interactive(app, block_action(SEND_DRAFT, "987654")) == 200
            assert await post_interactive(app, block_action(SEND_DRAFT, "not-a-number")) == 200
            await fake.slack.wait_for(lambda: len(ephemerals(fake.slack, "UTA1")) == 2)
            assert ephemerals(fake.slack, "UTA1") == [UNKNOWN_ESCALATION, UNKNOWN_ESCALATION]
            await asyncio.sleep(0.3)
            assert mentor.escalations.get(escalation.id).status == "open", "the forged click did nothing"
            assert len(student_posts(fake.slack)) == 1, "only the notice that the question went to the TAs"

    asyncio.run(scenario())


@contextmanager
def course_policy(mentor: MentorApp, policy: EscalationPolicy) -> Iterator[None]:
    """The course's escalation settings changed for one test (the platforms read them at start)."""
    original = mentor.settings
    [course] = original.courses
    mentor.settings = original.model_copy(update={"courses": [course.model_copy(update={"escalation": policy})]})
    try:
        yield
    finally:
        mentor.settings = original


def test_a_course_can_show_names_and_keep_its_tas_anonymous(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake):
            question = mention(DECLINED)
            thread = int(question["id"])
            await fake.discord.dispatch("MESSAGE_CREATE", question)
            await fake.slack.wait_for(lambda: queue_posts(fake.slack))
            shown = blocks_text(queue_posts(fake.slack)[0])
            assert "*student*" in shown and "Student " not in shown, "the student's own name"
            [escalation] = await until(lambda: [e for e in mentor.escalations.open_ones() if e.question == DECLINED and e.queue_ref])
            await fake.slack.send_envelope("interactive", block_action(ANSWER_IN_THREAD, str(escalation.id)))
            await fake.slack.wait_for(lambda: ephemerals(fake.slack, "UTA1"))
            ts = escalation.queue_ref.split(":")[1]
            await fake.slack.send_envelope("events_api", event_body(queue_reply(ts, "An aside to the other TAs", user="UTA2"), "EvAside"))
            await fake.slack.send_envelope("events_api", event_body(queue_reply(ts, "France.", reply_ts="1700000300.000002"), "EvAnswer"))
            await fake.discord.wait_for(lambda: len(fake.discord.created.get(thread, [])) == 3)
            content = fake.discord.created[thread][2]["content"]
            assert "Answer from a TA**" in content and "Grace" not in content and "France." in content
            assert all("aside" not in m["content"] for m in fake.discord.created[thread]), "only the claiming TA's reply is the answer"

    with course_policy(mentor, EscalationPolicy(ta_queue=QUEUE, pseudonymous=False, name_ta=False)):
        asyncio.run(scenario())


def test_a_question_left_open_too_long_is_posted_again_once(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake) as app:
            stale = mentor.escalations.open(
                NewEscalation("cs101", "Still waiting on this one", "not covered", SLACK_STUDENT, "Student 0A1B"), now=time.time() - 3 * 3600
            )
            fresh = await escalate_drafted(app, "Asked a minute ago")
            replica = ChatCommands(mentor).escalations  # another replica's service, with the same queue
            replica.queues = app.commands.escalations.queues
            counts = await asyncio.gather(app.commands.escalations.repost_stale(), replica.repost_stale())
            assert sorted(counts) == [0, 1], "one replica re-posts it, the other finds it taken"
            reposts = [q for q in queue_posts(fake.slack) if "Still waiting" in blocks_text(q) and ":repeat:" in blocks_text(q)]
            assert len(reposts) == 1, "once, though two replicas looked"
            assert await app.commands.escalations.repost_stale() == 0
            assert mentor.escalations.get(stale.id).queue_ref is not None, "a reply in the re-post's thread finds the question"
            assert not mentor.escalations.get(fresh.id).reposted

    with course_policy(mentor, EscalationPolicy(ta_queue=QUEUE, repost_after_minutes=60)):
        asyncio.run(scenario())


@pytest.mark.parametrize(("channel", "problem"), [(None, "channel_not_found"), ({"id": QUEUE, "is_member": False}, "not in the TA queue")])
def test_startup_fails_naming_the_setting_when_the_queue_channel_cannot_be_used(mentor: MentorApp, channel: Any, problem: str) -> None:
    async def scenario() -> None:
        async with fakes() as fake:
            if channel is None:
                del fake.slack.channels[QUEUE]
            else:
                fake.slack.channels[QUEUE] = channel
            with pytest.raises(PlatformError, match=rf"{problem}.*courses\.0\.escalation\.ta_queue \(course 'cs101'\)|courses\.0\.escalation\.ta_queue \(course 'cs101'\).*{problem}"):
                async with running(mentor, fake):
                    pass

    asyncio.run(scenario())


def test_a_deleted_student_thread_is_reported_to_the_ta_and_the_answer_is_kept(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake) as app:
            place = ReplyPlace(platform="discord", channel=str(CHANNEL + 7))
            question = Question(text="What is on the final?", course="cs101", platform="discord", asker="42")
            opened = await app.commands.escalations.escalate(question, DRAFTED, "asked for a TA", place)
            assert opened is not None
            escalation = opened.escalation
            fake.discord.fail("POST", f"/channels/{CHANNEL + 7}/messages", 404, {"message": "Unknown Channel", "code": 10003})
            await fake.slack.send_envelope("interactive", block_action(SEND_DRAFT, str(escalation.id)))
            await fake.slack.wait_for(lambda: ephemerals(fake.slack, "UTA1"))
            assert "could not be posted to the student" in ephemerals(fake.slack, "UTA1")[0] and "deleted" in ephemerals(fake.slack, "UTA1")[0]
            kept = mentor.escalations.get(escalation.id)
            assert kept.status == "answered" and kept.answer == DRAFTED.text and "deleted" in kept.delivery_problem
            await fake.slack.wait_for(lambda: queue_updates(fake.slack))
            assert "Not delivered" in blocks_text(queue_updates(fake.slack)[0])

    asyncio.run(scenario())


def test_a_dismissal_note_for_a_deleted_student_thread_is_reported_to_the_ta(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake) as app:
            place = ReplyPlace(platform="discord", channel=str(CHANNEL + 8))
            question = Question(text="Is the lab open on Sunday?", course="cs101", platform="discord", asker="42")
            opened = await app.commands.escalations.escalate(question, DRAFTED, "asked for a TA", place)
            assert opened is not None
            fake.discord.fail("POST", f"/channels/{CHANNEL + 8}/messages", 404, {"message": "Unknown Channel", "code": 10003})
            await fake.slack.send_envelope("interactive", block_action(DISMISS, str(opened.escalation.id), user="UTA2"))
            await fake.slack.wait_for(lambda: fake.slack.of("views.open"))
            opened_view = fake.slack.of("views.open")[0].args["view"]
            view = json.loads(opened_view) if isinstance(opened_view, str) else opened_view
            await fake.slack.send_envelope("interactive", view_submission(view, {"note": "It is closed on Sundays."}, user="UTA2"))
            await fake.slack.wait_for(lambda: ephemerals(fake.slack, "UTA2"))
            assert ephemerals(fake.slack, "UTA2")[0].startswith("Your note could not be posted to the student") and "deleted" in ephemerals(fake.slack, "UTA2")[0]
            kept = mentor.escalations.get(opened.escalation.id)
            assert kept.status == "dismissed" and "deleted" in kept.delivery_problem
            await fake.slack.wait_for(lambda: queue_updates(fake.slack))
            assert "Note not delivered" in blocks_text(queue_updates(fake.slack)[0])

    asyncio.run(scenario())


def test_a_slack_students_declined_question_goes_to_the_queue_and_the_student_is_told(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake):
            asked = {"type": "app_mention", "user": "USTUDENT", "text": f"<@{BOT_USER}> {STILL_DECLINED}", "ts": "1700000000.000900",
                     "channel": "CGENERAL", "event_ts": "1700000000.000900"}
            await fake.slack.send_envelope("events_api", event_body(asked, "EvDeclined"))
            await fake.slack.wait_for(lambda: [q for q in queue_posts(fake.slack) if STILL_DECLINED in blocks_text(q)])
            [queued] = [q for q in queue_posts(fake.slack) if STILL_DECLINED in blocks_text(q)]
            assert "on Slack" in blocks_text(queued) and "USTUDENT" not in blocks_text(queued)
            in_thread = lambda: [c.args["text"] for c in fake.slack.of("chat.postMessage") if c.args.get("thread_ts") == "1700000000.000900"]  # noqa: E731
            await fake.slack.wait_for(lambda: any(ESCALATED in text for text in in_thread()))
            [escalation] = [e for e in mentor.escalations.open_ones() if e.place.thread == "1700000000.000900"]
            assert escalation.place == ReplyPlace(platform="slack", channel="CGENERAL", thread="1700000000.000900")

    asyncio.run(scenario())


def test_an_unreachable_escalation_store_still_leaves_the_student_their_answer(mentor: MentorApp, caplog: pytest.LogCaptureFixture) -> None:
    unreachable = Database(create_engine(f"postgresql+psycopg://mentor@127.0.0.1:{free_port()}/mentor", connect_args={"connect_timeout": 2}))
    working = mentor.escalations
    mentor.__dict__["escalations"] = EscalationStore(unreachable)

    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake):
            question = mention(STILL_DECLINED)
            thread = int(question["id"])
            await fake.discord.dispatch("MESSAGE_CREATE", question)
            await fake.discord.wait_for(lambda: fake.discord.created.get(thread))
            await asyncio.sleep(1.0)
            [declined] = fake.discord.created[thread]
            assert NOT_COVERED[:40] in declined["content"], "the student is told it was not covered"
            assert not queue_posts(fake.slack)
            [lost] = [r for r in caplog.records if r.name == "bot.service.escalation"]
            assert "could not escalate" in lost.getMessage() and lost.levelname == "WARNING", "logged as lost, not raised"

    try:
        asyncio.run(scenario())
    finally:
        mentor.__dict__["escalations"] = working
        unreachable.close()
