"""The shared eval course and its questions (../shared/eval), and how a hit is judged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from models import SearchHit

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
COURSE_DIR = EVAL_DIR / "course"
QUESTIONS = EVAL_DIR / "python_tutorial_questions.jsonl"


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    source: str | None
    anchor: str | None
    pages: tuple[int, ...]

    @property
    def answerable(self) -> bool:
        return self.source is not None

    def is_gold(self, hit: SearchHit) -> bool:
        return self.points_at(hit.source, hit.locator.page, hit.locator.anchor)

    def points_at(self, source: str, page: int | None, anchor: str | None) -> bool:
        """A hit or citation counts when it points at the gold file and the gold page or section."""
        if self.source is None or source.rsplit("/", 1)[-1] != self.source:
            return False
        if self.pages:
            return page in self.pages
        return anchor == self.anchor


def load_questions() -> list[EvalQuestion]:
    if not QUESTIONS.exists():
        raise SystemExit(f"The eval set is missing: expected {QUESTIONS}")
    questions = []
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            questions.append(
                EvalQuestion(row["id"], row["question"], row.get("source"), row.get("anchor"), tuple(row.get("pages") or ()))
            )
    return questions


@dataclass(frozen=True)
class Scores:
    hit1: float
    hit3: float
    hit5: float
    mrr10: float

    @classmethod
    def of(cls, ranks: list[int | None]) -> Scores:
        """Ranks are 1-based positions of the first gold hit in the top 10, None when absent."""
        n = len(ranks)
        return cls(
            hit1=sum(1 for r in ranks if r is not None and r <= 1) / n,
            hit3=sum(1 for r in ranks if r is not None and r <= 3) / n,
            hit5=sum(1 for r in ranks if r is not None and r <= 5) / n,
            mrr10=sum(1 / r for r in ranks if r is not None and r <= 10) / n,
        )


def first_gold_rank(question: EvalQuestion, hits: list[SearchHit]) -> int | None:
    return next((rank for rank, hit in enumerate(hits, 1) if question.is_gold(hit)), None)


HELD_OUT = Path(__file__).with_name("heldout_questions.jsonl")


@dataclass(frozen=True)
class HeldOutQuestion:
    """A question written after `answer.min_relevance` was chosen, so it tests the threshold out of sample.

    `topic` is what an unanswerable one is about (logistics, small talk, ...) or the
    course file that answers an answerable one.
    """

    id: str
    question: str
    answerable: bool
    topic: str


def load_held_out() -> list[HeldOutQuestion]:
    rows = [json.loads(line) for line in HELD_OUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [HeldOutQuestion(row["id"], row["question"], row["answerable"], row["topic"]) for row in rows]
