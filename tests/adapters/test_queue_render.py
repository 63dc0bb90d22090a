"""The Slack TA-queue message and its modals, rendered without a network."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from adapters.slack.queue_render import (
    ANSWER_IN_THREAD,
    DISMISS,
    EDIT,
    EDIT_VIEW,
    MODAL_TEXT_LIMIT,
    SEND_DRAFT,
    dismiss_modal,
    edit_modal,
    render_closed,
    render_queue_message,
    submitted_text,
)
from bot.service.escalation import waited_s
from bot.service.notices import age, closed_already, draft_cut
from models import Citation, Escalation, ReplyPlace, Turn

ASKED = datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc)


def escalation(**changes: object) -> Escalation:
    base = Escalation(
        id=7, course="cs101", question="Who pings <!channel> and @everyone?", reason="not covered by the course materials",
        place=ReplyPlace(platform="discord", channel="1", link="https://discord.com/channels/1/2/3"), student="Student 4F2A",
        context=(Turn(role="user", text="earlier <@U1>"), Turn(role="assistant", text="an answer")),
        draft="Nobody. @here", sources=(Citation(n=1, title="Loops", source="loops.md", url="https://example.edu/loops.html"),),
        created_at=ASKED,
    )
    return base.model_copy(update=changes)


def actions(blocks: list[dict[str, object]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]  # type: ignore[index,union-attr]


def test_the_queue_message_shows_everything_a_ta_needs_and_pings_nobody() -> None:
    message = render_queue_message(escalation())
    shown = json.dumps(message.blocks)
    assert "Student 4F2A" in shown and "<https://discord.com/channels/1/2/3|Discord thread>" in shown
    assert f"<!date^{int(ASKED.timestamp())}^" in shown, "the age, in each reader's own time zone"
    assert "earlier" in shown and "an answer" in shown and "<https://example.edu/loops.html|Loops>" in shown
    assert "<!channel>" not in shown and "<@U1>" not in shown and "@everyone" not in shown and "@here" not in shown
    assert actions(message.blocks) == [SEND_DRAFT, EDIT, ANSWER_IN_THREAD, DISMISS]
    assert all(e["value"] == "7" for b in message.blocks if b["type"] == "actions" for e in b["elements"])  # type: ignore[index]
    assert SEND_DRAFT not in actions(render_queue_message(escalation(draft=None)).blocks), "no draft, nothing to send"


def test_the_modals_carry_the_escalation_and_the_draft() -> None:
    modal = edit_modal(escalation())
    assert modal["callback_id"] == EDIT_VIEW and modal["private_metadata"] == "7"
    assert modal["blocks"][1]["element"]["initial_value"] == "Nobody. @here"
    assert "initial_value" not in edit_modal(escalation(draft=None))["blocks"][1]["element"]
    assert dismiss_modal(escalation())["blocks"][1]["optional"] is True
    assert len(edit_modal(escalation())["blocks"]) == 2, "a draft that fits needs no note"
    state = {"state": {"values": {"answer": {"text": {"value": "  Week 8.  "}}}}}
    assert submitted_text(state, "answer") == "Week 8." and submitted_text(state, "note") == ""


def test_a_closed_question_says_who_and_how_long_and_loses_its_buttons() -> None:
    closed = escalation(status="answered", answered_by="Grace", answer="Week 8.", answered_at=ASKED + timedelta(minutes=12))
    message = render_closed(closed, waited_s(closed))
    assert message.text.startswith("Answered by Grace, 12 min") and not actions(message.blocks)
    gone = render_closed(closed.model_copy(update={"delivery_problem": "the student's Discord thread was deleted"}), 60)
    assert "Not delivered" in json.dumps(gone.blocks)


def test_ages_and_the_second_tas_notice_read_naturally() -> None:
    assert [age(s) for s in (5, 60 * 12, 3600 * 3 + 300, 86400 * 2)] == ["just now", "12 min", "3 h 5 min", "2 d"]
    assert closed_already("answered", "Grace") == "Grace answered this question first, so yours was not sent."
    assert closed_already("dismissed", None).startswith("Another TA dismissed")


def test_a_draft_longer_than_slacks_box_is_cut_between_words_and_the_modal_says_so() -> None:
    draft = " ".join(f"word{n}" for n in range(700))
    modal = edit_modal(escalation(draft=draft))
    kept = modal["blocks"][1]["element"]["initial_value"]
    assert len(kept) <= MODAL_TEXT_LIMIT and draft.startswith(kept) and draft[len(kept)] == " ", "cut between two words"
    assert modal["blocks"][2]["elements"][0]["text"] == draft_cut(len(draft), len(kept))
