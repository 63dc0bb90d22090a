"""The Discord TA queue's "Edit and send" and "Dismiss" modals (issue 18, as Slack's queue has them),
against the fake Discord with real discord.py: the button opens a modal (interaction callback type 9),
and the TA's submission comes back as an INTERACTION_CREATE of type 5."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from adapters.discord_bot.queue_modals import BOX_LIMIT, edit_modal, read_submission
from bot.app import MentorApp
from bot.service.notices import EMPTY_TA_ANSWER, ESCALATED, UNKNOWN_ESCALATION, draft_cut, fit_to_box
from models import Escalation, EscalationPolicy, Question, ReplyPlace
from tests.adapters.escalation_helpers import Fakes, Running, fakes, running
from tests.adapters.fake_discord import CHANNEL, STUDENT, TA_QUEUE, TA_ROLE, TEACHER, component, modal_submit, snowflake
from tests.adapters.test_ask_ta import private_replies
from tests.adapters.test_escalation import DRAFTED
from tests.conftest import example_course_app

DISCORD_QUEUE = EscalationPolicy(ta_queue=str(TA_QUEUE), ta_queue_platform="discord")
PINGS = f"@everyone @here <@&{TA_ROLE}>"


@pytest.fixture(scope="module")
def mentor(tmp_path_factory: pytest.TempPathFactory):
    app = example_course_app(tmp_path_factory.mktemp("discord_queue"), escalation=DISCORD_QUEUE)
    yield app
    app.close()


async def queued(app: Running, text: str, thread: int) -> tuple[Escalation, dict[str, Any], dict[str, str]]:
    """A Discord student's question with the bot's draft in the Discord queue: the escalation, its queue
    message, and the message's button custom ids by action."""
    question = Question(text=text, course="cs101", platform="discord", asker=str(STUDENT))
    opened = await app.commands.escalations.escalate(question, DRAFTED, "the student asked for a TA", ReplyPlace(platform="discord", channel=str(thread)))
    assert opened is not None and opened.created and opened.escalation.queue_ref
    message_id = opened.escalation.queue_ref.split(":")[1]
    [message] = [m for m in app.fakes.discord.created[TA_QUEUE] if m["id"] == message_id]
    buttons = {c["custom_id"].split(":")[2]: c["custom_id"] for row in message["components"] for c in row["components"]}
    return opened.escalation, message, buttons


def by(payload: dict[str, Any], name: str) -> dict[str, Any]:
    """The interaction as made by a member the server shows as `name`."""
    payload["member"]["nick"] = name
    return payload


def student_posts(fake: Fakes, thread: int) -> list[dict[str, Any]]:
    return [call.body for call in fake.discord.posted(f"/channels/{thread}/messages")]


def queue_edits(fake: Fakes, message: dict[str, Any]) -> list[str]:
    """The queue message's new texts; each edit also takes its buttons away."""
    edits = [c.body for c in fake.discord.calls if c.method == "PATCH" and c.path.endswith(f"/messages/{message['id']}")]
    assert all(edit["components"] == [] for edit in edits)
    return [edit["content"] for edit in edits]


def assert_pings_nobody(post: dict[str, Any]) -> None:
    assert post["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in post["content"] and "@here" not in post["content"] and f"<@&{TA_ROLE}>" not in post["content"]


def test_edit_and_send_prefills_the_draft_and_a_modal_opened_before_a_restart_still_sends_once(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake:
            thread = snowflake()
            async with running(mentor, fake) as app:
                escalation, message, buttons = await queued(app, "What does break do?", thread)
                assert list(buttons) == ["send", "edit", "thread", "dismiss"], "the same four buttons as Slack's queue"
                await fake.discord.dispatch("INTERACTION_CREATE", by(component(buttons["edit"], message, uid=TEACHER), "Grace Hopper"))
                await fake.discord.wait_for(lambda: fake.discord.modals())
            [modal] = fake.discord.modals()
            [question, label] = modal["components"]
            box = label["component"]
            assert question["type"] == 10 and "What does break do?" in question["content"]
            assert label["type"] == 18 and "description" not in label, "a draft that fits is not cut"
            assert box["type"] == 4 and box["style"] == 2 and box["value"] == DRAFTED.text and box["max_length"] == BOX_LIMIT

            edited = f"Use `break` to leave the loop. {PINGS}"
            async with running(mentor, fake):  # a new client: discord.py holds nothing of the modal now
                submit = by(modal_submit(modal, {"answer": edited}, message, uid=TEACHER), "Grace Hopper")
                await fake.discord.dispatch("INTERACTION_CREATE", submit)
                await fake.discord.wait_for(lambda: queue_edits(fake, message))
                await fake.discord.dispatch("INTERACTION_CREATE", submit)  # submitted twice: sent once
                await fake.discord.wait_for(lambda: private_replies(fake.discord))
            [notice, answer] = student_posts(fake, thread)
            assert ESCALATED in notice["content"]
            assert answer["content"].startswith("**Answer from a TA (Grace Hopper)**") and "Use `break` to leave the loop." in answer["content"]
            assert_pings_nobody(answer)
            assert "Answered by Grace Hopper" in queue_edits(fake, message)[0]
            assert private_replies(fake.discord) == ["Grace Hopper answered this question first, so yours was not sent."]
            kept = mentor.escalations.get(escalation.id)
            assert kept.status == "answered" and kept.answer == edited and kept.answered_by == "Grace Hopper"
            [verified] = [v for v in mentor.verified.newest_first("cs101") if v.escalation_id == escalation.id]
            assert verified.answer == edited, "kept as a verified answer, as Slack's edit is"

    asyncio.run(scenario())


def test_an_edit_submitted_after_another_ta_answered_is_refused_and_an_empty_one_sends_nothing(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake) as app:
            thread = snowflake()
            escalation, message, buttons = await queued(app, "Can I use a while loop here?", thread)
            await fake.discord.dispatch("INTERACTION_CREATE", by(component(buttons["edit"], message, uid=TEACHER), "Grace Hopper"))
            await fake.discord.wait_for(lambda: fake.discord.modals())
            [modal] = fake.discord.modals()
            await fake.discord.dispatch("INTERACTION_CREATE", by(modal_submit(modal, {"answer": "  \n "}, message, uid=TEACHER), "Grace Hopper"))
            await fake.discord.wait_for(lambda: private_replies(fake.discord) == [EMPTY_TA_ANSWER])
            assert mentor.escalations.get(escalation.id).status == "open" and len(student_posts(fake, thread)) == 1, "nothing sent"

            await fake.discord.dispatch("INTERACTION_CREATE", by(component(buttons["send"], message, uid=STUDENT), "Alan Turing"))
            await fake.discord.wait_for(lambda: queue_edits(fake, message))
            await fake.discord.dispatch("INTERACTION_CREATE", by(modal_submit(modal, {"answer": "My own answer"}, message, uid=TEACHER), "Grace Hopper"))
            await fake.discord.dispatch("INTERACTION_CREATE", by(component(buttons["edit"], message, uid=TEACHER), "Grace Hopper"))
            await fake.discord.wait_for(lambda: len(private_replies(fake.discord)) == 3)
            assert private_replies(fake.discord)[1:] == ["Alan Turing answered this question first, so yours was not sent."] * 2
            assert len(fake.discord.modals()) == 1, "no modal for a question answered already"
            [_, answer] = student_posts(fake, thread)
            assert "(Alan Turing)" in answer["content"] and "My own answer" not in answer["content"]
            assert mentor.escalations.get(escalation.id).answer == DRAFTED.text

    asyncio.run(scenario())


def test_forged_and_unknown_escalation_ids_are_refused_in_buttons_and_modals(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake) as app:
            thread = snowflake()
            escalation, message, buttons = await queued(app, "Is the exam open book?", thread)
            await fake.discord.dispatch("INTERACTION_CREATE", component(buttons["edit"], message, uid=TEACHER))
            await fake.discord.wait_for(lambda: fake.discord.modals())
            [modal] = fake.discord.modals()
            for forged_id in ("mentor:queue-form:edit:987654", "mentor:queue-form:dismiss:-1", f"mentor:queue-form:send:{escalation.id}"):
                forged = modal_submit(modal | {"custom_id": forged_id}, {"answer": "Forged"}, message, uid=TEACHER)
                await fake.discord.dispatch("INTERACTION_CREATE", forged)
            elsewhere = json.loads(json.dumps(message).replace(str(TA_QUEUE), str(CHANNEL)))  # a real id, from another channel
            await fake.discord.dispatch("INTERACTION_CREATE", modal_submit(modal, {"answer": "Forged"}, elsewhere, uid=TEACHER))
            button = buttons["edit"].replace(f":{escalation.id}", ":987654")
            await fake.discord.dispatch("INTERACTION_CREATE", component(button, json.loads(json.dumps(message).replace(buttons["edit"], button))))
            await fake.discord.wait_for(lambda: len(private_replies(fake.discord)) == 5)
            assert private_replies(fake.discord) == [UNKNOWN_ESCALATION] * 5
            assert len(fake.discord.modals()) == 1, "no modal for a made-up id"
            assert mentor.escalations.get(escalation.id).status == "open" and len(student_posts(fake, thread)) == 1, "nothing sent"

    asyncio.run(scenario())


def test_dismiss_with_a_note_tells_the_student_as_a_ta_and_pings_nobody_and_without_one_tells_nobody(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake) as app:
            noted_thread, quiet_thread = snowflake(), snowflake()
            noted, noted_message, noted_buttons = await queued(app, "Can I hand in late?", noted_thread)
            quiet, quiet_message, quiet_buttons = await queued(app, "Can I hand in twice?", quiet_thread)
            await fake.discord.dispatch("INTERACTION_CREATE", by(component(noted_buttons["dismiss"], noted_message, uid=TEACHER), "Grace Hopper"))
            await fake.discord.dispatch("INTERACTION_CREATE", by(component(quiet_buttons["dismiss"], quiet_message, uid=TEACHER), "Grace Hopper"))
            await fake.discord.wait_for(lambda: len(fake.discord.modals()) == 2)
            modals = {m["custom_id"]: m for m in fake.discord.modals()}
            note_modal, quiet_modal = modals[f"mentor:queue-form:dismiss:{noted.id}"], modals[f"mentor:queue-form:dismiss:{quiet.id}"]
            label = note_modal["components"][1]
            assert label["component"]["required"] is False and "not told" in label["description"]

            note = f"Ask the instructor by email, please. {PINGS}"
            await fake.discord.dispatch("INTERACTION_CREATE", by(modal_submit(note_modal, {"note": note}, noted_message, uid=TEACHER), "Grace Hopper"))
            await fake.discord.dispatch("INTERACTION_CREATE", by(modal_submit(quiet_modal, {}, quiet_message, uid=TEACHER), "Grace Hopper"))
            await fake.discord.wait_for(lambda: queue_edits(fake, noted_message) and queue_edits(fake, quiet_message))
            [_, told] = student_posts(fake, noted_thread)
            assert told["content"].startswith("**A TA looked at your question and left a note**") and "by email" in told["content"]
            assert_pings_nobody(told)
            assert len(student_posts(fake, quiet_thread)) == 1, "no note: the student is not told"
            assert "Dismissed by Grace Hopper" in queue_edits(fake, noted_message)[0] and "Dismissed by Grace Hopper" in queue_edits(fake, quiet_message)[0]
            assert mentor.escalations.get(noted.id).status == mentor.escalations.get(quiet.id).status == "dismissed"
            assert not private_replies(fake.discord), "nothing to tell the TA"
            assert not [v for v in mentor.verified.newest_first("cs101") if v.escalation_id in (noted.id, quiet.id)], "a note is no answer"

    asyncio.run(scenario())


def test_a_note_for_a_deleted_student_thread_is_reported_to_the_ta(mentor: MentorApp) -> None:
    async def scenario() -> None:
        async with fakes() as fake, running(mentor, fake) as app:
            thread = snowflake()
            escalation, message, buttons = await queued(app, "Where is the lab?", thread)
            await fake.discord.dispatch("INTERACTION_CREATE", component(buttons["dismiss"], message, uid=TEACHER))
            await fake.discord.wait_for(lambda: fake.discord.modals())
            fake.discord.fail("POST", f"/channels/{thread}/messages", 404, {"message": "Unknown Channel", "code": 10003})
            await fake.discord.dispatch("INTERACTION_CREATE", modal_submit(fake.discord.modals()[0], {"note": "Room 4.12."}, message, uid=TEACHER))
            await fake.discord.wait_for(lambda: private_replies(fake.discord))
            [told] = private_replies(fake.discord)
            assert told.startswith("Your note could not be posted to the student") and "deleted" in told
            kept = mentor.escalations.get(escalation.id)
            assert kept.status == "dismissed" and "deleted" in kept.delivery_problem
            assert "Note not delivered" in queue_edits(fake, message)[0]

    asyncio.run(scenario())


def test_a_draft_longer_than_the_box_is_cut_between_words_and_the_box_says_so() -> None:
    draft = " ".join(f"word{n}" for n in range(1500))
    kept, note = fit_to_box(draft, BOX_LIMIT)
    assert len(kept) <= BOX_LIMIT and draft.startswith(kept) and draft[len(kept)] == " ", "cut between two words"
    assert note == draft_cut(len(draft), len(kept)) and len(note) <= 100, "Discord's limit on a label's description"
    assert fit_to_box("x" * BOX_LIMIT + " more", BOX_LIMIT) == ("x" * BOX_LIMIT, draft_cut(BOX_LIMIT + 5, BOX_LIMIT)), "a word ending at the limit stays"
    assert fit_to_box(draft[:BOX_LIMIT], BOX_LIMIT) == (draft[:BOX_LIMIT], None)

    escalation = Escalation(id=7, course="cs101", question="Why?", reason="asked", place=ReplyPlace(platform="discord", channel="1"),
                            student="Student 0A1B", draft=draft, created_at=datetime.now(timezone.utc))
    [_, label] = edit_modal(escalation).to_components()
    assert label["description"] == note and label["component"]["value"] == kept
    submitted = {"custom_id": "mentor:queue-form:edit:7", "components": [{"type": 1, "components": [{"type": 4, "custom_id": "answer", "value": " Yes. "}]}]}
    assert read_submission(submitted).text == "Yes.", "the older action-row layout reads too"
    assert read_submission({"custom_id": "someone-else's-modal", "components": []}) is None
