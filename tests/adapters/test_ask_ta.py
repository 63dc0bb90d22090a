"""A student asking for a human (issue 18) against the fake Slack and the fake Discord, with real
slack-bolt and discord.py: the "Ask a TA" button, `@mentor ask a TA`, and a 👎 where the course wants it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import create_engine

from adapters.discord_bot.ask_ta import PREFIX
from adapters.slack.ask_ta import ASK_TA
from adapters.web import WebPlatform
from bot.app import MentorApp
from bot.errors import PlatformError
from bot.service.ask_ta import ASKED_REASON, TaRequest, asks_for_a_ta, split_thread
from bot.service.commands import ChatCommands
from bot.service.notices import ESCALATED, TA_REQUEST_REPLIES
from bot.store.database import Database
from bot.store.escalations import EscalationStore
from models import Answer, EscalationPolicy, Question, ReplyPlace, Turn
from tests.adapters.escalation_helpers import QUEUE, blocks_text, ephemerals, fakes, queue_posts, running
from tests.adapters.fake_discord import BOT, CHANNEL, STUDENT, TA_QUEUE, TEACHER, FakeDiscord, component, mention, modal_submit
from tests.adapters.fake_discord import message as discord_message
from tests.adapters.fake_discord import reaction as discord_reaction
from tests.adapters.fake_discord import thread as discord_thread
from tests.adapters.fake_discord import user as discord_user
from tests.adapters.fake_slack import BOT_USER, FakeSlack, block_action, event_body, reaction
from tests.adapters.test_escalation import DECLINED, course_policy
from tests.adapters.web_helpers import Web, web_settings
from tests.conftest import example_course_app, free_port, until

ASKED = "What does break do in a loop?"
ANSWER_WAIT = 180.0
"""Seconds an answer may take: SmolLM2 writes them in turn, on a shared machine."""


@pytest.fixture(scope="module")
def mentor(tmp_path_factory: pytest.TempPathFactory):
    app = example_course_app(tmp_path_factory.mktemp("ask_ta"), escalation=EscalationPolicy(ta_queue=QUEUE))
    yield app
    app.close()


@pytest.mark.parametrize(
    ("text", "asks"),
    [("ask a TA", True), ("Ask the TAs, please!", True), ("can I talk to a human?", True), ("escalate this to a TA", True),
     ("I'd like to speak with a teaching assistant", True), ("ask a question about loops", False), ("what does a TA do?", False)],
)
def test_asking_for_a_ta_is_told_from_a_question(text: str, asks: bool) -> None:
    assert asks_for_a_ta(text) is asks


def test_the_threads_last_question_is_sent_with_its_context_and_the_bots_answer_as_the_draft() -> None:
    turns = (Turn(role="user", text="What is a loop?"), Turn(role="assistant", text="A loop repeats."),
             Turn(role="user", text="And break?"), Turn(role="assistant", text="It leaves the loop."))
    found = split_thread(turns)
    assert found is not None and found.question == "And break?" and found.draft == "It leaves the loop." and found.context == turns[:2]
    earlier = split_thread(turns, "What is a loop?")
    assert earlier is not None and earlier.context == () and earlier.draft == "A loop repeats."
    asked_again = split_thread(turns + (Turn(role="user", text="ask a TA"), Turn(role="assistant", text="Passed on.")))
    assert asked_again is not None and asked_again.question == "And break?", "a request for a TA is not the question"
    assert split_thread((Turn(role="assistant", text="Hello"),)) is None


# --- Slack -----------------------------------------------------------------------------------


def slack_question(fake: FakeSlack, text: str, ts: str, event_id: str) -> dict[str, Any]:
    """A student's mention in #general; its thread (as conversations.replies returns it) starts with it."""
    asked = {"type": "app_mention", "user": "USTUDENT", "text": f"<@{BOT_USER}> {text}", "ts": ts, "channel": "CGENERAL", "event_ts": ts}
    fake.threads[ts] = [asked]
    return event_body(asked, event_id)


def in_thread(fake: FakeSlack, thread: str) -> list[dict[str, Any]]:
    return [c.args for c in fake.of("chat.postMessage") + fake.of("chat.update") if fake.messages.get(str(c.args.get("ts") or ""), {}).get("thread_ts") == thread or c.args.get("thread_ts") == thread]


def answered(fake: FakeSlack, thread: str) -> bool:
    """The bot's answer is in the thread (as blocks: the placeholder and the partials are plain text)."""
    return any(args.get("blocks") and "ts" in args for args in in_thread(fake, thread))


def answer_with_button(fake: FakeSlack, thread: str) -> dict[str, Any] | None:
    shown = [args for args in in_thread(fake, thread) if ASK_TA in blocks_text(args)]
    return shown[-1] if shown else None


def button_value(message: dict[str, Any]) -> str:
    blocks = message["blocks"] if isinstance(message["blocks"], list) else json.loads(message["blocks"])
    [button] = [e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == ASK_TA]
    return button["value"]


def click(value: str, answer: dict[str, Any], thread: str, user: str = "USTUDENT") -> dict[str, Any]:
    """The student's click on an answer's button, as Slack sends it (the message it was on included)."""
    payload = block_action(ASK_TA, value, user=user, channel="CGENERAL", message_ts=str(answer["ts"]))
    payload["message"] |= {"thread_ts": thread, "text": answer.get("text") or ""}
    return payload


def test_a_slack_students_ask_a_ta_button_sends_the_question_once_even_after_a_restart(tmp_path: Path) -> None:
    first = example_course_app(tmp_path, escalation=EscalationPolicy(ta_queue=QUEUE))
    thread = "1700000000.000500"

    async def scenario() -> None:
        async with fakes() as fake:
            async with running(first, fake):
                await fake.slack.send_envelope("events_api", slack_question(fake.slack, ASKED, thread, "EvAsk"))
                answer = await fake.slack.wait_for(lambda: answer_with_button(fake.slack, thread), ANSWER_WAIT)
                value = button_value(answer)
                await fake.slack.send_envelope("interactive", click(value, answer, thread))
                await fake.slack.wait_for(lambda: [q for q in queue_posts(fake.slack) if ASKED in blocks_text(q)])
                [queued] = [q for q in queue_posts(fake.slack) if ASKED in blocks_text(q)]
                assert "asked for a TA" in blocks_text(queued) and "The bot's draft" in blocks_text(queued)
                await fake.slack.wait_for(lambda: any(ESCALATED in str(m.get("text")) for m in in_thread(fake.slack, thread)))
                [escalation] = first.escalations.open_ones()
                assert escalation.place.thread == thread and escalation.draft, "the bot's answer is the TA's draft"
            first.close()

            second = MentorApp(first.settings)  # a new process: the button's signature and the escalation come from the database
            try:
                async with running(second, fake):
                    await fake.slack.send_envelope("interactive", click(value, answer, thread))
                    await fake.slack.wait_for(lambda: ephemerals(fake.slack, "USTUDENT"))
                    assert TA_REQUEST_REPLIES["already"] in ephemerals(fake.slack, "USTUDENT")[0]
                    forged = value.rsplit(".", 1)[0] + ".0123456789abcdef"
                    await fake.slack.send_envelope("interactive", click(forged, answer, thread))
                    await fake.slack.send_envelope("interactive", click(second.escalations.sign("987654"), answer, thread))
                    await fake.slack.wait_for(lambda: len(ephemerals(fake.slack, "USTUDENT")) == 3)
                    assert all(TA_REQUEST_REPLIES["unknown"] in told for told in ephemerals(fake.slack, "USTUDENT")[1:]), "refused, both"
                    assert len([q for q in queue_posts(fake.slack) if ASKED in blocks_text(q)]) == 1, "asked three times, sent once"
                    assert len(second.escalations.open_ones()) == 1
            finally:
                second.close()

    asyncio.run(scenario())


def ask_in_thread(fake: FakeSlack, text: str, thread: str, ts: str, event_id: str) -> dict[str, Any]:
    """The student's mention in a thread; `ts` after the bot's answer (the fake numbers the bot's from 1700000100)."""
    said = {"type": "app_mention", "user": "USTUDENT", "text": f"<@{BOT_USER}> {text}", "ts": ts, "thread_ts": thread,
            "channel": "CGENERAL", "event_ts": ts}
    fake.threads.setdefault(thread, []).append(said)
    return event_body(said, event_id)


def thread_texts(fake: FakeSlack, thread: str) -> list[str]:
    return [str(c.args.get("text")) for c in fake.of("chat.postMessage") if c.args.get("thread_ts") == thread]


def test_at_mentor_ask_a_ta_in_the_thread_sends_its_last_question_and_a_second_ask_is_told_it_is_there(mentor: MentorApp) -> None:
    thread = "1700000000.000600"
    question = "What does continue do in a loop?"

    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake):
            await fake.slack.send_envelope("events_api", slack_question(fake.slack, question, thread, "EvFile"))
            await fake.slack.wait_for(lambda: answer_with_button(fake.slack, thread), ANSWER_WAIT)
            await fake.slack.send_envelope("events_api", ask_in_thread(fake.slack, "Ask a TA please", thread, "1700009000.000601", "EvTa1"))
            await fake.slack.wait_for(lambda: [q for q in queue_posts(fake.slack) if question in blocks_text(q)])
            await fake.slack.wait_for(lambda: any(ESCALATED in t for t in thread_texts(fake.slack, thread)))
            await fake.slack.send_envelope("events_api", ask_in_thread(fake.slack, "can I talk to a human?", thread, "1700009000.000602", "EvTa2"))
            await fake.slack.wait_for(lambda: any(TA_REQUEST_REPLIES["already"] in t for t in thread_texts(fake.slack, thread)))
            assert len([q for q in queue_posts(fake.slack) if question in blocks_text(q)]) == 1
            [escalation] = [e for e in mentor.escalations.open_ones() if e.question == question]
            assert escalation.draft and "Ask a TA" not in escalation.question

            top = "1700000000.000700"  # asked outside any thread: there is no question to send
            await fake.slack.send_envelope("events_api", slack_question(fake.slack, "ask a TA", top, "EvTop"))
            await fake.slack.wait_for(lambda: any(TA_REQUEST_REPLIES["no_question"] in t for t in thread_texts(fake.slack, top)))

    asyncio.run(scenario())


def test_two_replicas_asked_at_once_send_the_question_once_and_the_other_caller_hears_it_is_there(mentor: MentorApp) -> None:
    thread, question = "1700000000.000650", "What does a set keep?"
    place = ReplyPlace(platform="slack", channel="CGENERAL", thread=thread)
    request = TaRequest("slack", place, (Turn(role="user", text=question), Turn(role="assistant", text="Unique items.")), course="cs101", asker="USTUDENT")

    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake) as app:
            replica = ChatCommands(mentor)  # another process on the same state database, with the same queue
            replica.escalations.queues, replica.escalations.threads = app.commands.escalations.queues, app.commands.escalations.threads
            outcomes = await asyncio.gather(app.commands.ta_requests.request(request), replica.ta_requests.request(request))
            assert sorted(outcomes) == ["already", "sent"]
            # Past its own `find` (it looked before the other's row was there): the store still hands back the open one.
            asked = Question(text=question, course="cs101", platform="slack", asker="USTUDENT")
            late = await replica.escalations.escalate(asked, Answer(text="Unique items.", grounded=True), ASKED_REASON, place)
            [escalation] = [e for e in mentor.escalations.open_ones() if e.question == question]
            assert late is not None and not late.created and late.escalation.id == escalation.id
            await fake.slack.wait_for(lambda: any(ESCALATED in t for t in thread_texts(fake.slack, thread)))
            assert len([q for q in queue_posts(fake.slack) if question in blocks_text(q)]) == 1, "posted to the queue once"
            assert len([t for t in thread_texts(fake.slack, thread) if ESCALATED in t]) == 1, "the student is told once"

    asyncio.run(scenario())


def test_without_a_ta_queue_there_is_no_button_and_asking_gets_a_clear_reply(mentor: MentorApp) -> None:
    thread = "1700000000.000800"

    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake):
            await fake.slack.send_envelope("events_api", slack_question(fake.slack, ASKED, thread, "EvNoQueue"))
            await fake.slack.wait_for(lambda: answered(fake.slack, thread), ANSWER_WAIT)
            assert answer_with_button(fake.slack, thread) is None
            await fake.slack.send_envelope("events_api", ask_in_thread(fake.slack, "ask a TA", thread, "1700009000.000801", "EvNoQueue2"))
            await fake.slack.wait_for(lambda: any(TA_REQUEST_REPLIES["no_queue"] in t for t in thread_texts(fake.slack, thread)))

    with course_policy(mentor, EscalationPolicy()):
        asyncio.run(scenario())


@pytest.mark.parametrize(
    ("on", "thread", "question"),
    [(True, "1700000000.000900", "How do I give a function a default argument value?"), (False, "1700000000.000950", "How do I define a function?")],
)
def test_a_thumbs_down_sends_the_question_only_where_the_course_turns_it_on(mentor: MentorApp, on: bool, thread: str, question: str) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake):
            await fake.slack.send_envelope("events_api", slack_question(fake.slack, question, thread, f"EvDown{on}"))
            answer = await fake.slack.wait_for(lambda: answer_with_button(fake.slack, thread), ANSWER_WAIT)
            # The bot's own 👎 under the answer comes once the answer is linked to its question: votes count from then.
            await fake.slack.wait_for(lambda: [c for c in fake.slack.of("reactions.add") if c.args.get("timestamp") == answer["ts"]])
            await fake.slack.send_envelope("events_api", event_body(reaction("reaction_added", "-1", "CGENERAL", str(answer["ts"])), f"EvVote{on}"))
            sent = lambda: [q for q in queue_posts(fake.slack) if question in blocks_text(q)]  # noqa: E731
            if not on:
                await until(lambda: any(q.text == question for q in mentor.question_log.downvoted("cs101", 0, 2e9)))
                await asyncio.sleep(0.5)
                assert not sent(), "off by default: the vote is only counted"
                return
            [queued] = await fake.slack.wait_for(sent)
            assert "voted the bot's answer down" in blocks_text(queued)
            [escalation] = [e for e in mentor.escalations.open_ones() if e.question == question]
            assert escalation.place.thread == thread, "the answer goes back to the student's thread"

    with course_policy(mentor, EscalationPolicy(ta_queue=QUEUE, on_thumbs_down=on)):
        asyncio.run(scenario())


def test_an_unreachable_escalation_store_tells_the_student_it_could_not_be_sent(mentor: MentorApp) -> None:
    unreachable = Database(create_engine(f"postgresql+psycopg://mentor@127.0.0.1:{free_port()}/mentor", connect_args={"connect_timeout": 2}))
    working = mentor.escalations
    mentor.__dict__["escalations"] = EscalationStore(unreachable)
    thread = "1700000000.001000"

    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake):
            await fake.slack.send_envelope("events_api", slack_question(fake.slack, ASKED, thread, "EvDown1"))
            await fake.slack.wait_for(lambda: answered(fake.slack, thread), ANSWER_WAIT)
            assert answer_with_button(fake.slack, thread) is None, "no button that could not be checked"
            await fake.slack.send_envelope("events_api", ask_in_thread(fake.slack, "ask a TA", thread, "1700009000.001001", "EvDown2"))
            await fake.slack.wait_for(lambda: any(TA_REQUEST_REPLIES["failed"] in t for t in thread_texts(fake.slack, thread)))
            assert not [q for q in queue_posts(fake.slack) if ASKED in blocks_text(q)]

    try:
        asyncio.run(scenario())
    finally:
        mentor.__dict__["escalations"] = working
        unreachable.close()


# --- Discord ---------------------------------------------------------------------------------


def discord_buttons(fake: FakeDiscord, thread: int) -> list[tuple[dict[str, Any], str]]:
    """The bot's messages in a thread with an "Ask a TA" button, and the button's custom id."""
    return [(m, c["custom_id"]) for m in fake.created.get(thread, []) for row in m.get("components") or [] for c in row["components"]
            if c.get("custom_id", "").startswith(PREFIX)]


def private_replies(fake: FakeDiscord) -> list[str]:
    """Follow-ups only the clicker sees (flag 64)."""
    return [c.body.get("content", "") for c in fake.posted("") if c.path.startswith("/webhooks/") and (c.body or {}).get("flags", 0) & 64]


def test_a_discord_students_ask_a_ta_button_works_after_a_restart_and_asking_again_sends_nothing_more(tmp_path: Path) -> None:
    first = example_course_app(tmp_path, escalation=EscalationPolicy(ta_queue=QUEUE))

    async def scenario() -> None:
        async with fakes() as fake:
            question = mention(ASKED)
            thread = int(question["id"])
            fake.discord.history[thread] = [question]
            async with running(first, fake):
                await fake.discord.dispatch("MESSAGE_CREATE", question)
                await fake.discord.wait_for(lambda: discord_buttons(fake.discord, thread), ANSWER_WAIT)
            first.close()

            [(answer, custom_id)] = discord_buttons(fake.discord, thread)
            second = MentorApp(first.settings)  # a new process: no view in memory, the button still works
            try:
                async with running(second, fake):
                    await fake.discord.dispatch("INTERACTION_CREATE", component(custom_id, answer))
                    await fake.slack.wait_for(lambda: [q for q in queue_posts(fake.slack) if ASKED in blocks_text(q)])
                    [queued] = [q for q in queue_posts(fake.slack) if ASKED in blocks_text(q)]
                    assert "Discord thread" in blocks_text(queued) and "The bot's draft" in blocks_text(queued)
                    await fake.discord.wait_for(lambda: any(ESCALATED in m["content"] for m in fake.discord.created[thread]))

                    await fake.discord.dispatch("INTERACTION_CREATE", component(custom_id, answer))
                    forged = PREFIX + "1.0123456789abcdef"  # Discord sends only ids the message carries: one made up elsewhere
                    tampered = json.loads(json.dumps(answer).replace(custom_id, forged))
                    await fake.discord.dispatch("INTERACTION_CREATE", component(forged, tampered))
                    await fake.discord.wait_for(lambda: len(private_replies(fake.discord)) == 2)
                    assert sorted(private_replies(fake.discord)) == sorted([TA_REQUEST_REPLIES["already"], TA_REQUEST_REPLIES["unknown"]])

                    await fake.discord.dispatch("THREAD_CREATE", discord_thread(thread, CHANNEL, "question"))  # as Discord announces it
                    await fake.discord.dispatch("MESSAGE_CREATE", mention("Can I ask a TA?", channel=thread))
                    await fake.discord.wait_for(lambda: any(TA_REQUEST_REPLIES["already"] in m["content"] for m in fake.discord.created[thread]))
                    await fake.discord.dispatch("MESSAGE_CREATE", mention("ask a TA"))  # in the channel, not a thread
                    await fake.discord.wait_for(lambda: any(TA_REQUEST_REPLIES["no_question"] in m["content"] for m in fake.discord.created.get(CHANNEL, [])))
                    assert len([q for q in queue_posts(fake.slack) if ASKED in blocks_text(q)]) == 1, "sent once"
                    [escalation] = second.escalations.open_ones()
                    assert escalation.place.channel == str(thread) and "student" in escalation.student.lower()
            finally:
                second.close()

    asyncio.run(scenario())


def test_a_discord_thumbs_down_sends_the_question_where_the_course_turns_it_on(mentor: MentorApp) -> None:
    question_text = "What does a dictionary map?"

    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake):
            question = mention(question_text)
            thread = int(question["id"])
            fake.discord.history[thread] = [question]
            await fake.discord.dispatch("MESSAGE_CREATE", question)
            await fake.discord.wait_for(lambda: discord_buttons(fake.discord, thread), ANSWER_WAIT)
            [(answer, _)] = discord_buttons(fake.discord, thread)
            await fake.discord.wait_for(lambda: fake.discord.reactions(int(answer["id"])))  # linked to its question by then
            await fake.discord.dispatch("MESSAGE_REACTION_ADD", discord_reaction(int(answer["id"]), "\N{THUMBS DOWN SIGN}", channel=thread))
            [queued] = await fake.slack.wait_for(lambda: [q for q in queue_posts(fake.slack) if question_text in blocks_text(q)])
            assert "voted the bot's answer down" in blocks_text(queued) and "The bot's draft" in blocks_text(queued)
            await fake.discord.wait_for(lambda: any(ESCALATED in m["content"] for m in fake.discord.created[thread]))

    with course_policy(mentor, EscalationPolicy(ta_queue=QUEUE, on_thumbs_down=True)):
        asyncio.run(scenario())


# --- the web page ----------------------------------------------------------------------------


def test_the_web_pages_ask_a_ta_brings_the_tas_answer_back_into_its_conversation(mentor: MentorApp) -> None:
    conversation = "page-0123456789abcdef"

    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake) as app:  # the Slack TA queue, on the page's own ChatCommands
            page = WebPlatform(web_settings(mentor), app.commands)
            await page.start()
            try:
                async with aiohttp.ClientSession() as http:
                    base = page.url.rstrip("/")
                    web = Web(page, app.commands, http, base)
                    events = await web.ask({"question": ASKED, "course": "cs101", "user": "stud1"})
                    [(_, answer)] = [e for e in events if e[0] == "answer"]
                    assert isinstance(answer["ask_ta"], str), "the answer carries its signed button"
                    history = [{"role": "user", "text": ASKED}, {"role": "assistant", "text": answer["text"]}]

                    async def ask_ta(button: str, conv: str = conversation) -> tuple[int, Any]:
                        body = {"conversation": conv, "button": button, "history": history}
                        async with http.post(base + "/api/ask-ta", json=body) as response:
                            return response.status, await response.json()

                    async def ta_answers() -> Any:
                        async with http.get(base + "/api/ta-answers", params={"conversation": conversation}) as response:
                            assert response.status == 200
                            return await response.json()

                    assert await ask_ta(answer["ask_ta"]) == (200, {"outcome": "sent", "message": ESCALATED})
                    assert (await ask_ta(answer["ask_ta"]))[1]["outcome"] == "already"
                    assert (await ask_ta(answer["ask_ta"].rsplit(".", 1)[0] + ".0123456789abcdef"))[0] == 404, "a forged button"
                    assert (await ask_ta(answer["ask_ta"], conv="short"))[0] == 400
                    [queued] = [q for q in queue_posts(fake.slack) if ASKED in blocks_text(q)]
                    assert "Web" in blocks_text(queued) and "The bot's draft" in blocks_text(queued)
                    assert await ta_answers() == {"answers": [], "waiting": 1}

                    [escalation] = [e for e in mentor.escalations.open_ones() if e.place.channel == conversation]
                    closing = await app.commands.escalations.answer(escalation.id, "`break` stops the loop at once.", "Grace Hopper")
                    assert closing.won and not closing.escalation.delivery_problem
                    assert escalation.question_id is not None, "the button's question is the escalation's"
                    assert mentor.escalations.get(escalation.id).human_answer_s is not None, "the time to a human answer is logged"
                    [back] = (await ta_answers())["answers"]
                    assert back["heading"] == "Answer from a TA (Grace Hopper)" and back["text"] == "`break` stops the loop at once."
            finally:
                await page.stop()

    asyncio.run(scenario())


# --- a Discord channel as the TA queue -------------------------------------------------------

DISCORD_QUEUE = EscalationPolicy(ta_queue=str(TA_QUEUE), ta_queue_platform="discord")


def queue_buttons(fake: FakeDiscord) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """The queue messages, each with its buttons' custom ids by action (`send`, `edit`, `thread`, `dismiss`)."""
    return [(m, {c["custom_id"].split(":")[2]: c["custom_id"] for row in m.get("components") or [] for c in row["components"]})
            for m in fake.created.get(TA_QUEUE, [])]


def test_a_course_without_slack_gets_its_questions_in_a_private_discord_channel_and_the_first_ta_wins(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake):
            question = mention(DECLINED)
            thread = int(question["id"])
            await fake.discord.dispatch("MESSAGE_CREATE", question)
            await fake.discord.wait_for(lambda: queue_buttons(fake.discord), ANSWER_WAIT)
            [(queued, ids)] = queue_buttons(fake.discord)
            assert DECLINED in queued["content"] and "not covered" in queued["content"]
            assert list(ids) == ["edit", "thread", "dismiss"], "no draft to send for a declined question"
            assert not queue_posts(fake.slack), "nothing goes to Slack"
            await fake.discord.wait_for(lambda: any(ESCALATED in m["content"] for m in fake.discord.created.get(thread, [])))

            claim = component(ids["thread"], queued, uid=TEACHER)
            await fake.discord.dispatch("INTERACTION_CREATE", claim)
            await fake.discord.wait_for(lambda: fake.discord.posted(f"/messages/{queued['id']}/threads"))
            await fake.discord.dispatch("INTERACTION_CREATE", component(ids["dismiss"], queued, uid=STUDENT))  # another TA dismisses first
            await fake.discord.wait_for(lambda: fake.discord.modals())
            await fake.discord.dispatch("INTERACTION_CREATE", modal_submit(fake.discord.modals()[0], {}, queued, uid=STUDENT))
            await fake.discord.wait_for(lambda: [c for c in fake.discord.calls if c.method == "PATCH"])
            assert "Dismissed by" in [c for c in fake.discord.calls if c.method == "PATCH"][0].body["content"]
            await fake.discord.dispatch("INTERACTION_CREATE", component(ids["dismiss"], queued, uid=TEACHER))
            await fake.discord.wait_for(lambda: any("first" in text for text in private_replies(fake.discord)))

    with course_policy(mentor, DISCORD_QUEUE):
        asyncio.run(scenario())


def test_a_ta_answers_in_the_discord_queue_thread_and_the_student_gets_it(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake):
            question = mention(DECLINED + " (again)")
            thread = int(question["id"])
            await fake.discord.dispatch("MESSAGE_CREATE", question)
            await fake.discord.wait_for(lambda: queue_buttons(fake.discord), ANSWER_WAIT)
            [(queued, ids)] = queue_buttons(fake.discord)
            await fake.discord.dispatch("INTERACTION_CREATE", component(ids["thread"], queued, uid=TEACHER))
            await fake.discord.wait_for(lambda: fake.discord.posted(f"/messages/{queued['id']}/threads"))
            await fake.discord.dispatch("THREAD_CREATE", discord_thread(int(queued["id"]), TA_QUEUE, "answer", owner=BOT))
            reply = discord_message(int(queued["id"]), discord_user(TEACHER, "teacher"), "France won. @everyone")
            await fake.discord.dispatch("MESSAGE_CREATE", reply)
            await fake.discord.wait_for(lambda: any("Answer from a TA" in m["content"] for m in fake.discord.created.get(thread, [])))
            [answer] = [m for m in fake.discord.created[thread] if "Answer from a TA" in m["content"]]
            assert "France won." in answer["content"] and "@everyone" not in answer["content"]
            await fake.discord.wait_for(lambda: [c for c in fake.discord.calls if c.method == "PATCH"])

    with course_policy(mentor, DISCORD_QUEUE):
        asyncio.run(scenario())


@pytest.mark.parametrize(("channel", "problem"), [("123", "not a text channel this bot can see"), (str(CHANNEL), "cannot post")])
def test_startup_fails_naming_the_setting_when_the_discord_queue_cannot_be_used(mentor: MentorApp, channel: str, problem: str) -> None:
    async def scenario() -> None:
        async with fakes() as fake:
            with pytest.raises(PlatformError, match=rf"{problem}.*courses\.0\.escalation\.ta_queue|courses\.0\.escalation\.ta_queue.*{problem}"):
                async with running(mentor, fake):
                    pass

    with course_policy(mentor, EscalationPolicy(ta_queue=channel, ta_queue_platform="discord")):
        asyncio.run(scenario())
