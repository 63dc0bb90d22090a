"""A question handed to the course's TAs, and where its answer must go back to."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from models.answer import Citation, Turn
from models.documents import Chunk, Locator

VERIFIED_SOURCE = "ta-answer:"
"""How the index names a verified answer's source (`ta-answer:12`): no course file has a colon there,
so it never collides with one, and adapters know it has no file to link to."""

EscalationStatus = Literal["open", "answered", "dismissed"]


class ReplyPlace(BaseModel):
    """Where a student asked, in the platform's own ids, so a TA's answer can be posted there later.

    Slack: `channel` and the thread's `thread` ts; Discord: the thread (or channel) id in
    `channel`; the web page: its conversation id in `channel`. `link` opens the thread where
    the platform gives one.
    """

    model_config = ConfigDict(frozen=True)

    platform: str
    channel: str
    thread: str | None = None
    link: str | None = None


class Escalation(BaseModel):
    """One question in a TA queue: open until a TA answers or dismisses it (first one wins)."""

    model_config = ConfigDict(frozen=True)

    id: int
    course: str
    question: str
    context: tuple[Turn, ...] = ()
    """The thread's earlier turns, oldest first."""
    reason: str
    place: ReplyPlace
    student: str
    """The name shown to TAs: the student's own, or the course's stable pseudonym for them."""
    draft: str | None = None
    sources: tuple[Citation, ...] = ()
    status: EscalationStatus = "open"
    queue_ref: str | None = None
    """The queue message (`channel:ts` on Slack), so a thread reply or an update finds it."""
    claimed_by: str | None = None
    """The TA who chose "Answer in thread": their next reply in the queue thread is the answer."""
    answer: str | None = None
    answered_by: str | None = None
    answered_at: datetime | None = None
    delivery_problem: str | None = None
    """Why the answer could not be posted to the student (thread deleted, archived); it is kept."""
    created_at: datetime
    reposted: bool = False
    question_id: int | None = None
    """The question log's row of the question, when it was recorded."""
    human_answer_s: float | None = None
    """Seconds from the question to the TA's answer reaching the student (the question log's record)."""


class VerifiedAnswer(BaseModel):
    """A TA's answer kept for the next similar question: indexed as a source of its own kind,
    cited as "TA answer, 2026-12-01"."""

    model_config = ConfigDict(frozen=True)

    id: int
    course: str
    question: str
    answer: str
    ta: str | None = None
    """The TA's display name where the course names its TAs (`escalation.name_ta`); None otherwise."""
    answered_at: datetime
    escalation_id: int | None = None
    edited_at: datetime | None = None

    def label(self) -> str:
        """How a citation of it reads: `TA answer, 2026-12-01` (the day of the answer, UTC)."""
        return f"TA answer, {self.answered_at:%Y-%m-%d}"

    def to_json(self) -> dict[str, object]:
        """The documented JSON shape (`mentor verified list --json`, `/admin/api/verified`)."""
        return {
            "id": self.id,
            "course": self.course,
            "question": self.question,
            "answer": self.answer,
            "ta": self.ta,
            "answered_at": self.answered_at.isoformat(),
            "edited_at": None if self.edited_at is None else self.edited_at.isoformat(),
            "escalation_id": self.escalation_id,
            "label": self.label(),
        }

    @property
    def source(self) -> str:
        return f"{VERIFIED_SOURCE}{self.id}"

    def to_chunk(self) -> Chunk:
        """The index's copy: the question and the answer together, so a similar question finds it like any passage."""
        text = f"Question: {self.question}\nA TA's answer: {self.answer}"
        return Chunk(
            id=f"ta-answer-{self.id}",
            course=self.course,
            source=self.source,
            title=self.label(),
            text=text,
            locator=Locator(),
            file_hash=hashlib.sha256(text.encode()).hexdigest(),
        )


def is_verified_source(source: str) -> bool:
    """A source that is a TA's answer, not a course file (nothing to serve at `/files`)."""
    return source.startswith(VERIFIED_SOURCE)
