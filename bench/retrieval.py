"""Retrieval quality on both eval sets, and ingest speed on the shared course.

Prints hit@1/3/5 (with counts) and MRR@5 of the project's default search beside
dense-only and BM25-only baselines over the same chunks, and the other fusions worth
comparing, on each set: the shared course (in-sample: it chose the weights) and the PDF
manuals of `bench/pdf_eval` (out-of-sample). Then a full ingest of the shared course
against embedding the same chunks alone, and an unchanged re-ingest.

    PYTHONPATH=$PWD .venv/bin/python -m bench.retrieval
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.evalset import EVAL_SETS, EvalSet, Scores, first_gold_rank, load_questions
from bench.rerank_cv import Candidates, added_latency, cross_validate
from bot.app import MentorApp
from bot.config.settings import Settings
from bot.ops.logs import configure_logging
from ingest.chunker import chunk_document
from ingest.discovery import discover
from ingest.loaders import is_supported, load_document
from models import Course
from rag.index import Fusion
from rag.rerank import LexicalReranker, MmrReranker, Reranker
from rag.retriever import HybridRetriever

CANDIDATES = 30
# Each reranker at the weight cross-validation picks on the in-sample set (bench.rerank_cv).
SHOWN = (LexicalReranker(0.95), MmrReranker(0.8))


def main() -> None:
    configure_logging()
    for number, eval_set in enumerate(EVAL_SETS):
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(data_dir=Path(data_dir), courses=[Course(name="eval", sources=(eval_set.course_dir,))])
            mentor = MentorApp(settings)
            mentor.embedder.warm_up()
            if number == 0:
                _ingest_speed(mentor)
            else:
                mentor.ingest("eval")
            _quality(mentor, eval_set)
            mentor.close()


def _quality(mentor: MentorApp, eval_set: EvalSet) -> None:
    questions = [q for q in load_questions(eval_set.questions) if q.answerable]
    chunks = mentor.index.count_chunks("eval")
    print(f"\n{eval_set.name} ({eval_set.label}): {chunks} chunks; {len(questions)} answerable questions")
    default = mentor.retriever
    first_stage = replace(default, reranker=None, candidates=CANDIDATES)
    rows = [Candidates(q, first_stage.search("eval", q.question, k=CANDIDATES).hits) for q in questions]
    if eval_set.in_sample:
        cross_validate(rows)
    print(f"\n{'search':<52} {'hit@1':>12} {'hit@3':>12} {'hit@5':>12} {'MRR@5':>7}")
    alone = replace(default, reranker=None, candidates=default.k)
    variants = {
        f"project default ({_describe(default)})": default,
        f"first stage alone, {default.k} sections (before reranking)": alone,
        **{
            f"rerank {_named(reranker)} of {n}": replace(default, reranker=reranker, candidates=n)
            for reranker in (None, *SHOWN) for n in (20, CANDIDATES)
        },
        "baseline: dense only": replace(alone, mode="dense"),
        "baseline: BM25 only": replace(alone, mode="bm25"),
        **{f"hybrid, RRF k={k}": replace(alone, fusion=Fusion(method="rrf", rrf_k=k)) for k in (10, 30, 60, 100)},
        **{
            f"hybrid, weighted {w:.1f}/{1 - w:.1f}": replace(alone, fusion=Fusion(method="weighted", dense_weight=w))
            for w in (0.5, 0.6, 0.7, 0.8, 0.9)
        },
    }
    for label, retriever in variants.items():
        ranks = [first_gold_rank(q, retriever.search("eval", q.question, k=10).hits) for q in questions]
        print(f"{label:<52} {Scores.of(ranks).row()}")
    print("\nwhat each reranker adds to one question (ms, its own work only; the first stage is not included)")
    for reranker in SHOWN:
        for n in (20, CANDIDATES):
            p50, p95 = added_latency(rows, reranker, n)
            print(f"  {_named(reranker)} of {n}: p50 {p50:.2f}, p95 {p95:.2f}")


def _ingest_speed(mentor: MentorApp) -> None:
    course = mentor.course("eval")
    # Embedding alone is timed before and after the ingest; their mean evens out warm-up and drift.
    embed_before = _embedding_alone(mentor, course)
    started = time.perf_counter()
    report = mentor.ingest("eval")
    full = time.perf_counter() - started
    started = time.perf_counter()
    again = mentor.ingest("eval")
    unchanged = time.perf_counter() - started
    embed_after = _embedding_alone(mentor, course)
    embed_only = (embed_before + embed_after) / 2
    print(
        f"shared eval course: {len(report.added)} files, {report.chunks_written} chunks; "
        f"full ingest {full:.1f} s; embedding the same chunks alone {embed_only:.1f} s "
        f"(mean of {embed_before:.1f} s before and {embed_after:.1f} s after): "
        f"ratio {full / embed_only:.2f} (target <= 1.3)"
    )
    print(f"unchanged re-ingest {unchanged:.3f} s: {100 * unchanged / full:.1f} % of a full ingest (target <= 5 %)")
    assert not again.added and not again.changed


def _embedding_alone(mentor: MentorApp, course: Course) -> float:
    """Embed exactly the chunks the ingest wrote, with nothing else around it."""
    pipeline = mentor.pipeline
    chunks = []
    for source, path in discover(course.sources).items():
        if is_supported(path):
            document = load_document(path, source)
            chunks += chunk_document(
                document, course="eval", file_hash="0" * 64, base_url=None, policy=pipeline.policy, counter=mentor.embedder
            )
    texts = [chunk.embedding_text() for chunk in chunks]
    started = time.perf_counter()
    mentor.embedder.embed_documents(texts)
    return time.perf_counter() - started


def _describe(retriever: HybridRetriever) -> str:
    fusion = retriever.fusion
    fused = f"RRF k={fusion.rrf_k}" if fusion.method == "rrf" else f"weighted {fusion.dense_weight:.1f}/{1 - fusion.dense_weight:.1f}"
    return f"{retriever.mode}, {fused}, rerank {_named(retriever.reranker)} of {retriever.candidates}"


def _named(reranker: Reranker | None) -> str:
    """`lexical 0.95`: the name and the weight, as the tables print it."""
    if reranker is None:
        return "none"
    return " ".join([reranker.name, *(str(value) for key, value in vars(reranker).items() if key != "name")])


if __name__ == "__main__":
    main()
