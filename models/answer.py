"""A question as an adapter hands it to the core, and the answer it gets back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.attachment import Attachment
from models.documents import page_text

Role = Literal["user", "assistant"]
AnswerKind = Literal["answer", "quote", "not_covered", "retrieval_only", "exam"]
"""`answer`: written by the model; `quote`: sentences of the course materials, word for word,
picked without a model (quote mode); `not_covered`: retrieval found nothing relevant, so the
model was not asked; `retrieval_only`: the model could not be reached, so the best
passages are shown instead; `exam`: an exam window is open, so the question was not answered."""


class Turn(BaseModel):
    """One earlier message of the thread: the asker's (`user`) or the bot's (`assistant`)."""

    model_config = ConfigDict(frozen=True)

    role: Role
    text: str


def last_turns(turns: Sequence[Turn], keep: int) -> tuple[Turn, ...]:
    """The last `keep` turns; none for 0 (a plain `turns[-0:]` would keep them all)."""
    return tuple(turns[-keep:]) if keep > 0 else ()


class Question(BaseModel):
    """What an adapter builds from a platform event: the text with the bot mention stripped."""

    model_config = ConfigDict(frozen=True)

    text: str
    course: str | None = None
    """None means the default course."""
    asker: str | None = None
    platform: str = "cli"
    history: tuple[Turn, ...] = ()
    """Earlier turns of the thread, oldest first."""
    link: str | None = None
    """Where it was asked (a message URL), so a later asker of the same question can be pointed there."""
    attachments: tuple[Attachment, ...] = ()
    """Files attached to the question; those read are already part of `text`."""


class PriorQuestion(BaseModel):
    """An earlier question close to this one, already answered in a thread of its own."""

    text: str
    asked_at: datetime
    link: str
    similarity: float


class Citation(BaseModel):
    """A source the answer points at, numbered as the answer's `[n]` markers are."""

    n: int
    title: str
    source: str
    page: int | None = None
    page_label: str | None = None
    """The page's printed number where it differs from the PDF page number (`Locator.page_label`)."""
    anchor: str | None = None
    url: str | None = None
    headings: tuple[str, ...] = ()
    see_also: bool = False
    """True when the model cited nothing: this is one of the (up to three) best passages the
    answer was drawn from, attached as a source consulted so every answer has a source."""
    quotes: tuple[str, ...] = ()
    """In quote mode: the sentences quoted from this source, as they stand in `excerpt`."""
    excerpt: str | None = None
    """In quote mode: the passage the quotes come from, so a page can show them marked in place."""

    def label(self) -> str:
        """`Title › Section, p. 3`, how a citation reads in chat."""
        place = " › ".join(part for part in (self.title, *self.headings[-1:]) if part)
        return f"{place}, {page_text(self.page, self.page_label)}" if self.page is not None else place

    def to_json(self) -> dict[str, object]:
        return {
            "n": self.n,
            "title": self.title,
            "source": self.source,
            "page": self.page,
            "page_label": self.page_label,
            "anchor": self.anchor,
            "url": self.url,
            "see_also": self.see_also,
            "quotes": list(self.quotes),
        }


class Timings(BaseModel):
    retrieve_ms: float = 0.0
    generate_ms: float = 0.0
    first_token_ms: float | None = None
    """From the start of generation to the first streamed token."""


class Answer(BaseModel):
    text: str
    citations: list[Citation] = Field(default_factory=list)
    grounded: bool
    """True when retrieval found material relevant enough to answer from."""
    kind: AnswerKind = "answer"
    model: str | None = None
    """The model that wrote the text; None when no model was asked."""
    timings: Timings = Field(default_factory=Timings)
    notice: str | None = None
    """For operators, not students: why the answer is degraded (e.g. the model file is missing)."""
    question_id: int | None = None
    """The service's record of the question, which feedback on this answer refers to; None when not recorded."""
    asked_before: PriorQuestion | None = None
    """The same question asked before in this course and platform: adapters link its thread first."""

    def to_json(self) -> dict[str, object]:
        """The documented JSON shape (`mentor ask --json`)."""
        return {
            "answer": self.text,
            "citations": [citation.to_json() for citation in self.citations],
            "grounded": self.grounded,
            "kind": self.kind,
            "model": self.model,
            "notice": self.notice,
            "asked_before": None if self.asked_before is None else self.asked_before.model_dump(mode="json"),
            "timings": {
                "retrieve_ms": round(self.timings.retrieve_ms, 1),
                "generate_ms": round(self.timings.generate_ms, 1),
                "first_token_ms": None if self.timings.first_token_ms is None else round(self.timings.first_token_ms, 1),
            },
        }
