"""The Discord TA queue's modals, as Slack's queue has them: "Edit and send" (the draft in a text
box) and "Dismiss" (an optional note to the student), and reading what a TA submitted.

A submission is matched by the modal's custom id, which carries the escalation's id, and read from
the payload Discord sends (`data.components`: action rows or labels around text inputs, each with
its `value`, as discord.py's `Modal` reads them), not from a modal object kept in memory: a modal
opened before a restart still submits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import discord

from bot.service.notices import fit_to_box
from models import Escalation

FORM_PREFIX = "mentor:queue-form:"
_FORM = re.compile(re.escape(FORM_PREFIX) + r"(?P<kind>edit|dismiss):(?P<id>[0-9]{1,18})")
ANSWER, NOTE = "answer", "note"
BOX_LIMIT = 4000
"""Discord's limit on a text input's value, its prefill included."""
QUESTION_CHARS = 600
TEXT_INPUT, ACTION_ROW, LABEL = 4, 1, 18
"""Component types in a modal submission."""


@dataclass(frozen=True)
class Submission:
    """A TA's submitted modal: `escalation_id` None when the custom id has our prefix but no form of ours made it."""

    kind: Literal["edit", "dismiss"] | None
    escalation_id: int | None
    text: str


def edit_modal(escalation: Escalation) -> discord.ui.Modal:
    """"Edit and send": the draft (or nothing) in a text box; a draft too long for the box is cut at a word, and the label says so."""
    prefill, note = fit_to_box(escalation.draft or "", BOX_LIMIT)
    box = discord.ui.TextInput(style=discord.TextStyle.paragraph, custom_id=ANSWER, default=prefill or None, max_length=BOX_LIMIT)
    return _modal("edit", escalation, "Answer the student", discord.ui.Label(text="Your answer", description=note, component=box))


def dismiss_modal(escalation: Escalation) -> discord.ui.Modal:
    """"Dismiss": an optional note, which goes to the student's thread."""
    box = discord.ui.TextInput(style=discord.TextStyle.paragraph, custom_id=NOTE, required=False, max_length=BOX_LIMIT)
    label = discord.ui.Label(text="Note to the student (optional)", description="Left empty, the student is not told.", component=box)
    return _modal("dismiss", escalation, "Dismiss the question", label)


def _modal(kind: str, escalation: Escalation, title: str, field: discord.ui.Label[Any]) -> discord.ui.Modal:
    modal = discord.ui.Modal(title=title, custom_id=f"{FORM_PREFIX}{kind}:{escalation.id}")
    question = escalation.question[:QUESTION_CHARS]
    modal.add_item(discord.ui.TextDisplay("\n".join(f"> {line}" for line in question.splitlines() or [""])))
    modal.add_item(field)
    return modal


def read_submission(data: dict[str, Any]) -> Submission | None:
    """What a modal submission (`interaction.data`) says; None when its custom id is not one of ours."""
    custom_id = str(data.get("custom_id") or "")
    if not custom_id.startswith(FORM_PREFIX):
        return None
    match = _FORM.fullmatch(custom_id)
    if match is None:
        return Submission(None, None, "")
    kind: Literal["edit", "dismiss"] = "edit" if match["kind"] == "edit" else "dismiss"
    values = _values(data.get("components") or [])
    return Submission(kind, int(match["id"]), values.get(ANSWER if kind == "edit" else NOTE, "").strip())


def _values(components: list[dict[str, Any]]) -> dict[str, str]:
    """Text inputs' values by custom id, inside action rows (the older layout) or labels (the newer)."""
    found: dict[str, str] = {}
    for component in components:
        if component.get("type") == ACTION_ROW:
            found |= _values(component.get("components") or [])
        elif component.get("type") == LABEL:
            found |= _values([component.get("component") or {}])
        elif component.get("type") == TEXT_INPUT and component.get("custom_id"):
            found[str(component["custom_id"])] = str(component.get("value") or "")
    return found
