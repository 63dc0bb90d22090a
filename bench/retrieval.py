"""Retrieval quality on both eval sets, the rerankers' cost, and ingest speed on the shared course.

On each set it prints hit@1/3/5 (with counts) and MRR@5 of the project's default search
beside the first stage alone (k sections), each reranker over 20 and 30 candidates
(`none` there: the top k of that many, unreordered), dense-only and BM25-only
baselines, the fusion the default had before `bench.fusion_cv`, and the other fusions.
Both sets chose the fusion (`bench.fusion_cv`, cross-validated over both), so fusion
figures on either are in-sample; its out-of-fold figures are the honest ones. The shared
course alone chose the reranker: on it `bench.rerank_cv` cross-validates the rerankers
(5-fold over its questions, and tuned on its HTML pages and scored on its PDF, and the
reverse) and names the one chosen; for the reranker the PDF manuals of `bench/pdf_eval`
are out-of-sample. Then what each
reranker adds to a question (its own work, p50 / p95), what 30 candidates cost the
first stage against k, a full ingest of the shared course against embedding the same
chunks alone, and an unchanged re-ingest.

    PYTHONPATH=$PWD .venv/bin/python -m bench.retrieval [--no-ingest-speed]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.evalset import EVAL_SETS, EvalSet, Scores, first_gold_rank, load_questions
from bench.rerank_cv import Candidates, Keep, cross_validate, described, latency_ms, named
from bot.app import MentorApp
from bot.config.settings import Settings
from bot.ops.logs import configure_logging
from ingest.chunker import chunk_document
from ingest.discovery import discover
from ingest.loaders import is_supported, load_document
from models import Course
from rag.index import Fusion
from rag.rerank import LexicalReranker, MmrReranker

CANDIDATES = 30
# Each reranker at the weight bench.fusion_cv picks on all the questions of both sets.
SHOWN = (LexicalReranker(0.9), MmrReranker(0.95))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-ingest-speed", action="store_true", help="skip timing the ingest (most of the run on 2 busy cores)")
    args = parser.parse_args()
    configure_logging()
    for number, eval_set in enumerate(EVAL_SETS):
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(data_dir=Path(data_dir), courses=[Course(name="eval", sources=(eval_set.course_dir,))])
            mentor = MentorApp(settings)
            mentor.embedder.warm_up()
            if number == 0 and not args.no_ingest_speed:
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
    print(f"\n{'search':<64} {'hit@1':>12} {'hit@3':>12} {'hit@5':>12} {'MRR@5':>7}")
    alone = replace(default, reranker=None)
    variants = {
        f"project default ({described(default)})": default,
        f"first stage alone, {default.k} sections": alone,
        "before bench.fusion_cv: hybrid, weighted 0.6/0.4, no rerank": replace(alone, fusion=Fusion(method="weighted", dense_weight=0.6)),
        "RRF k=60, no rerank (bench.fusion_cv's first choice, fusions alone)": replace(alone, fusion=Fusion(method="rrf", rrf_k=60)),
        **{
            f"rerank {named(reranker)} of {n}": replace(default, reranker=reranker, candidates=n)
            for reranker in (Keep(), *SHOWN) for n in (20, CANDIDATES)
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
        # k as configured: a larger k would widen the first stage's candidates and hide what it costs.
        ranks = [first_gold_rank(q, retriever.search("eval", q.question).hits) for q in questions]
        print(f"{label:<64} {Scores.of(ranks).row()}")
    print("\nwhat each reranker adds to one question (ms, its own work only; the first stage is not included)")
    for reranker in SHOWN:
        for n in (20, CANDIDATES):
            p50, p95 = latency_ms(lambda row: reranker.rerank(row.question.question, row.hits[:n]), rows)
            print(f"  {named(reranker)} of {n}: p50 {p50:.2f}, p95 {p95:.2f}")
    print(f"what gathering more candidates costs the first stage on this index of {chunks} chunks (ms, embed + search; bench.speed has 50k)")
    for n in (default.k, CANDIDATES):
        p50, p95 = latency_ms(lambda question: alone.search("eval", question.question, k=n), questions)
        print(f"  {n} candidates: p50 {p50:.1f}, p95 {p95:.1f}")


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


if __name__ == "__main__":
    main()
