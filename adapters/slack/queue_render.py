"""An escalation as a Slack TA-queue message (Block Kit), and the modals its buttons open.

Pure functions, so the queue message is tested without a network. Every piece of a
student's or a TA's text is escaped: nothing in the queue can ping anyone.
"""

from __future__ import annotations

from typing import Any

from adapters.slack.render import SECTION_LIMIT, SlackMessage, _section, escape, link, split_sections
from bot.service.notices import closed_line, fit_to_box, undelivered_mark
from models import Escalation

SEND_DRAFT, EDIT, ANSWER_IN_THREAD, DISMISS = "escalation_send", "escalation_edit", "escalation_thread", "escalation_dismiss"
EDIT_VIEW, DISMISS_VIEW = "escalation_edit_view", "escalation_dismiss_view"
ANSWER_INPUT, NOTE_INPUT, TEXT = "answer", "note", "text"
CONTEXT_TURNS = 4
"""Earlier turns of the student's thread shown with the question: the latest few."""
MODAL_TEXT_LIMIT = 3000
"""Slack's limit on a plain_text_input's initial value."""


def render_queue_message(escalation: Escalation, *, reposted: bool = False) -> SlackMessage:
    """The question, where it came from, its context, the bot's draft and sources, its age, and the buttons."""
    origin = escape(escalation.place.platform.capitalize())
    if escalation.place.link:
        origin = f"<{escalation.place.link}|{origin} thread>"
    created = int(escalation.created_at.timestamp())
    age = f"<!date^{created}^asked {{date_short_pretty}} at {{time}}|asked {escalation.created_at:%Y-%m-%d %H:%M} UTC>"
    header = f"{':repeat: *Still waiting* · ' if reposted else ''}*{escape(escalation.student)}* on {origin} · {escape(escalation.course)} · {age}"
    blocks: list[dict[str, Any]] = [
        _context(header + f" · {escape(escalation.reason)}"),
        _section(_quoted(escalation.question)),
    ]
    if escalation.context:
        turns = escalation.context[-CONTEXT_TURNS:]
        earlier = "\n".join(f"{'Student' if turn.role == 'user' else 'Bot'}: {escape(_one_line(turn.text))}" for turn in turns)
        blocks.append(_context(f"Earlier in the thread:\n{earlier}"[:SECTION_LIMIT]))
    if escalation.draft:
        blocks.append(_section("*The bot's draft*"))
        blocks += [_section(piece) for piece in split_sections(escalation.draft)[:3]]
    if escalation.sources:
        blocks.append(_context("Sources: " + ", ".join(f"[{c.n}] {link(c)}" for c in escalation.sources)))
    blocks.append({"type": "actions", "block_id": f"escalation_{escalation.id}", "elements": _buttons(escalation)})
    return SlackMessage(f"Question for a TA from {escape(escalation.student)}: {escape(_one_line(escalation.question))}", blocks)


def render_closed(escalation: Escalation, waited_s: float) -> SlackMessage:
    """The queue message once answered or dismissed: the question and who closed it, no buttons."""
    line = closed_line(escalation.status, escalation.answered_by or "a TA", waited_s)
    blocks = [_context(f"*{escape(escalation.student)}* · {escape(escalation.course)}"), _section(_quoted(escalation.question))]
    if escalation.status == "answered" and escalation.answer:
        blocks.append(_section(split_sections(escalation.answer)[0]))
    if escalation.delivery_problem:
        blocks.append(_context(f":warning: {escape(undelivered_mark(escalation.status, escalation.delivery_problem))}"))
    blocks.append(_context(f":white_check_mark: {escape(line)}"))
    return SlackMessage(f"{escape(line)}: {escape(_one_line(escalation.question))}", blocks)


def edit_modal(escalation: Escalation) -> dict[str, Any]:
    """"Edit and send": the draft (or nothing) in a text box; submitting sends it to the student."""
    box: dict[str, Any] = {"type": "plain_text_input", "action_id": TEXT, "multiline": True}
    prefill, cut = fit_to_box(escalation.draft or "", MODAL_TEXT_LIMIT)
    if prefill:
        box["initial_value"] = prefill
    answer_box = {"type": "input", "block_id": ANSWER_INPUT, "label": {"type": "plain_text", "text": "Your answer"}, "element": box}
    return _modal(EDIT_VIEW, escalation, "Answer the student", "Send", [
        _context(_quoted(escalation.question)),
        answer_box,
        *([_context(escape(cut))] if cut else []),
    ])


def dismiss_modal(escalation: Escalation) -> dict[str, Any]:
    """"Dismiss": an optional note that goes to the student."""
    box = {"type": "plain_text_input", "action_id": TEXT, "multiline": True}
    return _modal(DISMISS_VIEW, escalation, "Dismiss the question", "Dismiss", [
        _context(_quoted(escalation.question)),
        {"type": "input", "block_id": NOTE_INPUT, "optional": True, "label": {"type": "plain_text", "text": "Note to the student (optional)"}, "element": box},
    ])


def submitted_text(view: dict[str, Any], block: str) -> str:
    """What the TA typed into a modal's text box ("" when left empty)."""
    value = view.get("state", {}).get("values", {}).get(block, {}).get(TEXT, {}).get("value")
    return (value or "").strip()


def _buttons(escalation: Escalation) -> list[dict[str, Any]]:
    value = str(escalation.id)
    buttons = [
        {"type": "button", "action_id": EDIT, "text": {"type": "plain_text", "text": "Edit and send"}, "value": value},
        {"type": "button", "action_id": ANSWER_IN_THREAD, "text": {"type": "plain_text", "text": "Answer in thread"}, "value": value},
        {"type": "button", "action_id": DISMISS, "text": {"type": "plain_text", "text": "Dismiss"}, "value": value, "style": "danger"},
    ]
    if escalation.draft:
        buttons.insert(0, {"type": "button", "action_id": SEND_DRAFT, "style": "primary", "text": {"type": "plain_text", "text": "Send the draft"}, "value": value})
    return buttons


def _modal(callback_id: str, escalation: Escalation, title: str, submit: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": str(escalation.id),
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text, "verbatim": True}]}


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" for line in escape(text).splitlines() or [""])[:SECTION_LIMIT]


def _one_line(text: str, limit: int = 200) -> str:
    folded = " ".join(text.split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"
