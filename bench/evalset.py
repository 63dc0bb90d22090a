"""The eval courses and their questions, and how a hit is judged.

Two sets: `../shared/eval` chose the reranker, so a figure on it is in-sample;
`bench/pdf_eval` (PDF manuals) is the reranker's out-of-sample check. The fusion was
chosen by cross-validation over both (`bench.fusion_cv`), so for the fusion both are
in-sample and only its out-of-fold figures count as unseen. Tune nothing else on the second set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from models import SearchHit

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
COURSE_DIR = EVAL_DIR / "course"
QUESTIONS = EVAL_DIR / "python_tutorial_questions.jsonl"
PDF_EVAL_DIR = Path(__file__).resolve().parent / "pdf_eval"


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    source: str | None
    anchor: str | None
    pages: tuple[int, ...]
    key_phrase: str | None = None
    """Words of the gold passage that hold the answer (quote mode's benchmark looks for them)."""
    topic: str | None = None
    """What an unanswerable question is about (other libraries, logistics, ...), where the set says."""

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


@dataclass(frozen=True)
class EvalSet:
    name: str
    label: str
    """What a figure on this set means: in-sample (it chose a setting) or out-of-sample."""
    course_dir: Path
    questions: Path
    in_sample: bool
    unanswerable: Path | None = None
    """Unanswerable questions kept apart from `questions`, written to calibrate the grounding check."""


EVAL_SETS = (
    EvalSet("shared", "in-sample: chose the fusion (with the manuals) and the reranker", COURSE_DIR, QUESTIONS, True),
    EvalSet(
        "pdf-manuals", "in-sample for the fusion (chosen with the shared set), out-of-sample for the reranker",
        PDF_EVAL_DIR / "course", PDF_EVAL_DIR / "questions.jsonl", False, PDF_EVAL_DIR / "unanswerable.jsonl",
    ),
)


def load_questions(path: Path = QUESTIONS) -> list[EvalQuestion]:
    if not path.exists():
        raise SystemExit(f"The eval set is missing: expected {path}")
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            questions.append(
                EvalQuestion(
                    row["id"], row["question"], row.get("source"), row.get("anchor"), tuple(row.get("pages") or ()),
                    row.get("key_phrase"), row.get("topic"),
                )
            )
    return questions


@dataclass(frozen=True)
class Scores:
    """Counts of questions whose first gold hit is within rank 1, 3 and 5, and MRR@5."""

    n: int
    hit1: int
    hit3: int
    hit5: int
    mrr5: float

    @classmethod
    def of(cls, ranks: list[int | None]) -> Scores:
        """Ranks are 1-based positions of the first gold hit, None when absent."""
        found = [r for r in ranks if r is not None]
        return cls(
            n=len(ranks),
            hit1=sum(1 for r in found if r <= 1),
            hit3=sum(1 for r in found if r <= 3),
            hit5=sum(1 for r in found if r <= 5),
            mrr5=sum(1 / r for r in found if r <= 5) / len(ranks),
        )

    def row(self) -> str:
        """`0.875 (35/40)` per hit@k, then MRR@5."""
        hits = " ".join(f"{h / self.n:.3f} ({h:>2}/{self.n})" for h in (self.hit1, self.hit3, self.hit5))
        return f"{hits} {self.mrr5:7.3f}"


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
