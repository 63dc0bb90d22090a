"""Answers about an assignment before its deadline: the instruction the model gets, and the
check that replaces a code dump with a hint.

The prompt asks for hints; a small model does not always listen, and a quote of the course's
own text may hold code close to the solution, so every answer (written or quoted) is
checked too: a fenced code block longer than the course's `max_code_lines`, or close to the
assignment's solution files (`rag.code_similarity`), is taken out, and the student is told why.
"""

from __future__ import annotations

import re

from models import ActiveAssignment, Answer
from rag.code_similarity import closest

INSTRUCTION = {
    "concepts": (
        "This question is about the graded assignment {name}, due {due}. Explain only the ideas and "
        "concepts it rests on, with examples that are not this task. Write no code for this task."
    ),
    "hints": (
        "This question is about the graded assignment {name}, due {due}. Do not give a complete "
        "solution or code that solves it: ask guiding questions, point to the sources, and give hints "
        "the student can act on."
    ),
}
FENCED = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$\n?", re.MULTILINE | re.DOTALL)
WITHHELD = (
    "This question is about {name}, which is due {due}. Until then I can give hints, not code that "
    "solves it, so I left out {count} code block(s) of my answer ({why})."
)
TOO_LONG = "longer than {lines} lines"
LIKE_SOLUTION = "close to the assignment's solution"
NOTHING_LEFT = "Have a look at the sources below, and try writing the first step yourself; ask again about the part that blocks you."


def instruction(assignment: ActiveAssignment | None) -> str | None:
    """What the system prompt adds for this assignment's mode now; None for a normal answer."""
    if assignment is None or not assignment.restricted:
        return None
    return INSTRUCTION[assignment.mode].format(name=assignment.name, due=_when(assignment))


def guarded(text: str, assignment: ActiveAssignment | None) -> str:
    """The answer with every code block over the limit taken out, and why, while the assignment is restricted."""
    if assignment is None or not assignment.restricted:
        return text
    withheld = [(match, why) for match in FENCED.finditer(text) if (why := _withheld_because(match.group(2), assignment))]
    if not withheld:
        return text
    kept = text
    for match, _ in reversed(withheld):
        kept = kept[: match.start()] + kept[match.end() :]
    kept = re.sub(r"\n{3,}", "\n\n", kept).strip() or NOTHING_LEFT
    reasons = ", ".join(dict.fromkeys(why for _, why in withheld))
    notice = WITHHELD.format(name=assignment.name, due=_when(assignment), count=len(withheld), why=reasons)
    return f"{notice}\n\n{kept}"


def guarded_answer(answer: Answer, assignment: ActiveAssignment | None) -> Answer:
    """`guarded` applied to a finished answer (quote mode): its citations stay, so the hint keeps its sources."""
    text = guarded(answer.text, assignment)
    return answer if text == answer.text else answer.model_copy(update={"text": text})


def _withheld_because(code: str, assignment: ActiveAssignment) -> str | None:
    """Why this code block may not be shown before the deadline; None when it may."""
    if len(code.strip("\n").splitlines()) > assignment.max_code_lines:
        return TOO_LONG.format(lines=assignment.max_code_lines)
    if assignment.solutions and closest(code, assignment.solutions) >= assignment.solution_overlap:
        return LIKE_SOLUTION
    return None


def _when(assignment: ActiveAssignment) -> str:
    return f"{assignment.due:%Y-%m-%d %H:%M %Z}".strip()
