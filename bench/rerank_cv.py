"""Choosing the reranker and its weight by cross-validation, never by the best score on one set.

Only the in-sample set (`../shared/eval`) is used: 5-fold over its questions (three
shuffles), and leave-one-kind-out over its two kinds of material (the HTML tutorial and
the R admin PDF: tuned on one kind, scored on the other). Each fold picks its weight on
the training questions and is scored on the held-back ones, so a figure here is what
the choice is worth on questions it did not see. The PDF manuals of `bench/pdf_eval`
stay out: they are reported once, after the choice, by `bench.retrieval`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bench.cv import best, by_group, k_folds, out_of_fold
from bench.evalset import EvalQuestion, first_gold_rank
from bench.stats import percentile
from models import SearchHit
from rag.index import Fusion
from rag.rerank import LexicalReranker, MmrReranker, Reranker
from rag.retriever import HybridRetriever

K = 5
T = TypeVar("T")
FOLDS = 5
SHUFFLES = 3


@dataclass(frozen=True)
class Candidates:
    """One question and the first stage's candidate sections for it, best first."""

    question: EvalQuestion
    hits: list[SearchHit]

    @property
    def kind(self) -> str:
        return (self.question.source or "").rsplit(".", 1)[-1]


class Keep:
    """The first stage's order: what every reranker has to beat."""

    name = "none"

    def rerank(self, query: str, hits: list[SearchHit]) -> list[SearchHit]:
        return hits

    def problem(self) -> str | None:
        return None


FAMILIES: dict[str, list[Reranker]] = {
    "none": [Keep()],
    "lexical": [LexicalReranker(w) for w in (0.5, 0.7, 0.8, 0.9, 0.95)],
    "mmr": [MmrReranker(w) for w in (0.7, 0.8, 0.9, 0.95)],
}


def named(reranker: Reranker | None) -> str:
    """`lexical 0.95`: the name and the weight, as the tables print it."""
    if reranker is None:
        return "none"
    return " ".join([reranker.name, *(str(value) for key, value in vars(reranker).items() if key != "name")])


def ranks(rows: Sequence[Candidates], reranker: Reranker) -> list[int | None]:
    return [first_gold_rank(row.question, reranker.rerank(row.question.question, row.hits)[:K]) for row in rows]


def cross_validate(rows: list[Candidates], out: Callable[[str], None] = print) -> str:
    """Print each family's cross-validated MRR@5 and return the family chosen (ties go to `none`)."""
    kinds = sorted({row.kind for row in rows})
    out(f"\nchoosing the reranker on {len(rows)} in-sample questions ({', '.join(kinds)}); each figure is out-of-fold")
    out(f"{'reranker':<10} {'5-fold MRR@5':>13} {'kind-out MRR@5':>15}  {'weight chosen on all':<28}")
    cv: dict[str, float] = {}
    everyone = range(len(rows))
    for name, rerankers in FAMILIES.items():
        grid = {named(reranker): ranks(rows, reranker) for reranker in rerankers}
        shuffled = sum(out_of_fold(grid, k_folds(len(rows), FOLDS, seed))[0] for seed in range(SHUFFLES)) / SHUFFLES
        kind_out = out_of_fold(grid, by_group([row.kind for row in rows]))[0]
        cv[name] = (shuffled + kind_out) / 2
        out(f"{name:<10} {shuffled:13.3f} {kind_out:15.3f}  {best(grid, everyone)}")
    chosen = max(cv, key=lambda name: (round(cv[name], 3), name == "none"))
    out(f"chosen by the mean of both: {chosen}")
    return chosen


def latency_ms(call: Callable[[T], object], items: Sequence[T]) -> tuple[float, float]:
    """p50 and p95 milliseconds of `call` on each of `items`."""
    times = []
    for item in items:
        started = time.perf_counter()
        call(item)
        times.append(1000 * (time.perf_counter() - started))
    return percentile(times, 0.5), percentile(times, 0.95)


def described(retriever: HybridRetriever) -> str:
    """`hybrid, RRF k=60, no rerank`: a retriever's first stage and reranker, as the tables print them."""
    fused = fusion_name(retriever.fusion)
    if retriever.reranker is None:
        return f"{retriever.mode}, {fused}, no rerank"
    return f"{retriever.mode}, {fused}, rerank {named(retriever.reranker)} of {retriever.candidates}"


def fusion_name(fusion: Fusion) -> str:
    """`RRF k=60` or `weighted 0.6/0.4`."""
    if fusion.method == "rrf":
        return f"RRF k={fusion.rrf_k}"
    return f"weighted {fusion.dense_weight:.1f}/{1 - fusion.dense_weight:.1f}"
