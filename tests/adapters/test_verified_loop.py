"""Verified answers end to end, with real slack-bolt against the fake Slack: a declined question goes to
the TA queue, a TA answers in the queue thread, and the next similar question is answered from that answer."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import create_engine

from adapters.slack.queue_render import ANSWER_IN_THREAD, SEND_DRAFT
from bot.store.database import Database
from bot.store.verified import VerifiedStore
from models import Answer, EscalationPolicy, Question, ReplyPlace
from tests.adapters.escalation_helpers import QUEUE, ephemerals, fakes, queue_posts, queue_reply, queue_updates, running
from tests.adapters.fake_discord import CHANNEL
from tests.adapters.fake_slack import BOT_USER, FakeSlack, block_action, event_body
from tests.conftest import example_course_app, free_port, until

DECLINED = "Who won the 1998 football world cup final?"
SIMILAR = "Which team won the football world cup final of 1998?"
OTHER_DECLINED = "What is the best pizza topping in Naples?"
TA_ANSWER = "France won the 1998 football world cup final, 3-0 against Brazil."


def asked(text: str, ts: str) -> dict[str, object]:
    return {"type": "app_mention", "user": "USTUDENT", "text": f"<@{BOT_USER}> {text}", "ts": ts, "channel": "CGENERAL", "event_ts": ts}


def in_thread(fake: FakeSlack, ts: str) -> list[str]:
    return [str(c.args.get("text", "")) + str(c.args.get("blocks", "")) for c in fake.of("chat.postMessage") if c.args.get("thread_ts") == ts]


def shown(fake: FakeSlack) -> str:
    """Everything the bot posted or updated in Slack, as one text."""
    return "".join(str(c.args.get("text", "")) + str(c.args.get("blocks", "")) for m in ("chat.postMessage", "chat.update") for c in fake.of(m))


@pytest.fixture(scope="module")
def mentor(tmp_path_factory: pytest.TempPathFactory):
    app = example_course_app(tmp_path_factory.mktemp("verified"), escalation=EscalationPolicy(ta_queue=QUEUE))
    yield app
    app.close()


def test_a_ta_answer_to_a_declined_question_answers_the_next_similar_one_with_its_citation(mentor) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake):
            await fake.slack.send_envelope("events_api", event_body(asked(DECLINED, "1700000000.000100"), "EvFirst"))
            [escalation] = await until(lambda: [e for e in mentor.escalations.open_ones() if e.queue_ref and e.place.thread == "1700000000.000100"])
            assert escalation.question_id is not None, "linked to its row of the question log"
            ts = escalation.queue_ref.split(":")[1]
            await fake.slack.send_envelope("interactive", block_action(ANSWER_IN_THREAD, str(escalation.id), message_ts=ts))
            await fake.slack.wait_for(lambda: ephemerals(fake.slack, "UTA1"))
            await fake.slack.send_envelope("events_api", event_body(queue_reply(ts, TA_ANSWER), "EvTA"))
            await fake.slack.wait_for(lambda: queue_updates(fake.slack))
            assert any(TA_ANSWER in text for text in in_thread(fake.slack, "1700000000.000100")), "the student got the TA's answer"

            [verified] = await until(lambda: [v for v in mentor.verified.newest_first("cs101") if v.escalation_id == escalation.id])
            assert verified.escalation_id == escalation.id and verified.answer == TA_ANSWER and verified.question == DECLINED
            label = f"TA answer, {verified.answered_at:%Y-%m-%d}"
            assert verified.label() == label
            time_to_human = mentor.question_log.get(escalation.question_id).human_answer_s
            assert time_to_human is not None and time_to_human > 0
            assert [e.human_answer_s for e in mentor.escalations.answered_ones("cs101") if e.id == escalation.id] == [time_to_human]

            await fake.slack.send_envelope("events_api", event_body(asked(SIMILAR, "1700000000.000200"), "EvSecond"))
            [record] = await until(lambda: [q for q in mentor.question_log.recent("cs101") if q.text == SIMILAR], timeout=120)
            assert record.kind == "answer" and label in [c.label for c in record.citations], record
            await fake.slack.wait_for(lambda: label in shown(fake.slack))
            assert len(queue_posts(fake.slack)) == 1, "answered from the TA's answer, not sent to the TAs again"

    asyncio.run(scenario())


def test_an_unreachable_store_still_delivers_the_ta_answer_and_logs_the_failure(mentor, caplog: pytest.LogCaptureFixture) -> None:
    unreachable = Database(create_engine(f"postgresql+psycopg://mentor@127.0.0.1:{free_port()}/mentor", connect_args={"connect_timeout": 2}))
    working = mentor.verified
    mentor.__dict__["verified"] = VerifiedStore(unreachable)

    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake):
            await fake.slack.send_envelope("events_api", event_body(asked(OTHER_DECLINED, "1700000000.000300"), "EvThird"))
            [escalation] = await until(lambda: [e for e in mentor.escalations.open_ones() if e.queue_ref and e.place.thread == "1700000000.000300"])
            ts = escalation.queue_ref.split(":")[1]
            await fake.slack.send_envelope("interactive", block_action(ANSWER_IN_THREAD, str(escalation.id), message_ts=ts))
            await fake.slack.wait_for(lambda: ephemerals(fake.slack, "UTA1"))
            with caplog.at_level(logging.WARNING, logger="bot.service.escalation"):
                await fake.slack.send_envelope("events_api", event_body(queue_reply(ts, "Margherita.", reply_ts="1700000300.000002"), "EvTA2"))
                await fake.slack.wait_for(lambda: queue_updates(fake.slack))
            assert any("Margherita." in text for text in in_thread(fake.slack, "1700000000.000300")), "the student still got it"
            [lost] = [r for r in caplog.records if "not kept as a verified answer" in r.getMessage()]
            assert lost.levelname == "WARNING" and f"escalation {escalation.id}" in lost.getMessage()

    try:
        asyncio.run(scenario())
    finally:
        mentor.__dict__["verified"] = working
        unreachable.close()


def test_an_answer_to_a_deleted_thread_is_still_kept_as_a_verified_answer(mentor) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake) as app:
            place = ReplyPlace(platform="discord", channel=str(CHANNEL + 9))
            drafted = Answer(text="The final is on the last Friday of term.", grounded=True)
            question = Question(text="When is the final exam?", course="cs101", platform="discord", asker="42")
            opened = await app.commands.escalations.escalate(question, drafted, "asked for a TA", place)
            assert opened is not None
            escalation = opened.escalation
            fake.discord.fail("POST", f"/channels/{CHANNEL + 9}/messages", 404, {"message": "Unknown Channel", "code": 10003})
            await fake.slack.send_envelope("interactive", block_action(SEND_DRAFT, str(escalation.id)))
            await fake.slack.wait_for(lambda: ephemerals(fake.slack, "UTA1"))
            assert "could not be posted to the student" in ephemerals(fake.slack, "UTA1")[0], "the TA is told"
            [verified] = await until(lambda: [v for v in mentor.verified.newest_first("cs101") if v.escalation_id == escalation.id])
            assert verified.answer == drafted.text and verified.ta == "Grace Hopper"
            assert mentor.escalations.get(escalation.id).human_answer_s is None, "not delivered: no time to a human answer"

    asyncio.run(scenario())
