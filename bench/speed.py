"""Search latency at 50k chunks on Milvus Lite, model load excluded.

The eval course's real chunks are joined by filler chunks up to 50,000 rows: their
text is shuffled words of the real chunks and their vectors are real vectors with
noise, so BM25 and HNSW work on realistic statistics. The filler is written, sealed and
indexed the way an ingest writes real rows (`bench.filler`), and checked before timing. Each query is timed end to end
as a student's question is served: embed the question, hybrid search, build the hits,
and with a reranker (the default's, or MMR) gather 30 candidates and reorder them. Every end-to-end stage embeds
its question afresh (`spelled`), as a new question is; the search legs alone reuse one
vector per question. On Milvus Lite 3.x searches read the course's copy in memory
(`rag.index.memory`), read before timing starts; one stage times Milvus Lite's own
engine beside it, in the same run.

    .venv/bin/python -m bench.speed [--rows 50000] [--queries 200] [--data-dir DIR]

With `--data-dir` the built index is kept there and a later run on the same folder (and
the same engine) times it again without rebuilding: repeats taken in turns with another
engine then cost minutes, not the build's quarter of an hour on 2 shared cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path

from bench.evalset import COURSE_DIR, load_questions
from bench.filler import fill, ready
from bench.rerank_cv import described
from bench.stats import percentile
from bot.app import MentorApp
from bot.config.settings import Settings
from bot.ops.logs import configure_logging
from models import Course
from rag.index import Fusion, MilvusIndex, collection_name
from rag.rerank import MmrReranker

CANDIDATES = 30
SPELLINGS = 7
"""More than the stages that embed: a casing of one stage's is never another's."""


def arguments() -> argparse.Namespace:
    """The options every benchmark over the grown eval course takes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, help="keep the built index here, and time it again if it is there")
    args = parser.parse_args()
    configure_logging()
    return args


@contextmanager
def built_index(args: argparse.Namespace, release_of: Callable[[int], int] | None = None) -> Iterator[MentorApp]:
    """The eval course grown to `args.rows` (built, or found built in `--data-dir`), opened afresh
    as a service opens it, with its embedder warm and the index checked ready."""
    with nullcontext(str(args.data_dir)) if args.data_dir else tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir), courses=[Course(name="eval", sources=(COURSE_DIR,))])
        mentor = MentorApp(settings)
        print(f"engine: {mentor.index.engine()}")
        if ready(mentor.index, "eval", args.rows) is None:
            print(f"timing the index already built in {data_dir}")
        else:
            _build(mentor, args.rows, release_of)
        mentor.close()

        # Measure as a service sees it: a process that opened the finished index.
        mentor = MentorApp(settings)
        mentor.embedder.warm_up()
        problem = ready(mentor.index, "eval", args.rows)
        if problem:
            raise SystemExit(f"not timing an index that is not ready: {problem}")
        if mentor.index.searches_from_memory:
            started, rss_before = time.perf_counter(), resident_mb()
            copy = mentor.index.memory.load(collection_name("eval"))
            if copy is None:
                raise SystemExit(f"the memory copy was not made: is milvus_memory_rows below {args.rows}?")
            print(
                f"searched from memory: {copy.size} chunks read in {time.perf_counter() - started:.1f} s, "
                f"resident memory {rss_before:.0f} -> {resident_mb():.0f} MB"
            )
        try:
            yield mentor
        finally:
            mentor.close()


def main() -> None:
    args = arguments()
    with built_index(args) as mentor:
        questions = [q.question for q in load_questions()]
        for question in questions[:10]:  # warm caches, as a running service has them
            mentor.search(question, "eval")
        index, embedder, default = mentor.index, mentor.embedder, mentor.retriever
        vectors_by_question = {q: embedder.embed_query(q) for q in questions}
        end_to_end = {
            f"end to end, default ({described(default)})": default,
            "end to end, the default's fusion without a reranker": replace(default, reranker=None),
            "end to end, weighted 0.6/0.4, no rerank (the default before bench.fusion_cv)": replace(
                default, fusion=Fusion("weighted", 0.6), reranker=None
            ),
            f"end to end, the default's fusion, mmr rerank of {CANDIDATES}": replace(default, reranker=MmrReranker(), candidates=CANDIDATES),
        }
        stages: dict[str, Callable[[str], object]] = {
            "embed the question": lambda q: embedder.embed_query(spelled(q, 0)),
            "dense search": lambda q: index.search("eval", q, vectors_by_question[q], k=5, mode="dense"),
            "BM25 search": lambda q: index.search("eval", q, vectors_by_question[q], k=5, mode="bm25"),
            "hybrid search": lambda q: index.search("eval", q, vectors_by_question[q], k=5, mode="hybrid"),
            "hybrid search in Milvus Lite itself (no memory copy)": lambda q: in_milvus(
                index, lambda: index.search("eval", q, vectors_by_question[q], k=5, mode="hybrid")
            ),
            f"hybrid search, {CANDIDATES} candidates": lambda q: index.search("eval", q, vectors_by_question[q], k=CANDIDATES),
            **{
                label: lambda q, retriever=retriever, n=n: retriever.search("eval", spelled(q, n))
                for n, (label, retriever) in enumerate(end_to_end.items(), 1)
            },
        }
        shown_timings(stages, questions, args.queries, f"{args.queries} queries at {args.rows} chunks, the stages taking turns on each question")
        print("target: end to end p95 <= 50 ms")


def resident_mb() -> float:
    """This process's resident memory (Linux), 0 where /proc is not there."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)


def in_milvus(index: MilvusIndex, search: Callable[[], object]) -> object:
    """`search` as it ran before memory copies: Milvus Lite's own engine answers it."""
    rows, index.memory_rows = index.memory_rows, 0
    try:
        return search()
    finally:
        index.memory_rows = rows


def spelled(question: str, stage: int) -> str:
    """The question in a casing of its own per stage, so no stage finds the vector another stage's
    embedding left in the embedder's cache; the uncased MiniLM reads every casing as the same
    word pieces (one vector, one cost), and BM25 lower-cases, so the hits are the same."""
    lowered = question.lower()
    return "".join(c.upper() if i % SPELLINGS == stage % SPELLINGS else c for i, c in enumerate(lowered))


def _build(mentor: MentorApp, rows: int, release_of: Callable[[int], int] | None = None) -> None:
    """Ingest the eval course and grow it with filler to `rows` (`release_of`: filler row -> its release time)."""
    mentor.embedder.warm_up()
    mentor.ingest("eval")
    started = time.perf_counter()
    generation, filler = fill(mentor.index, "eval", rows, release_of=release_of)
    print(f"{rows - filler} real chunks + {filler} filler chunks = {rows} rows in {generation}, "
          f"written, sealed and indexed in {time.perf_counter() - started:.0f} s")


def shown_timings(stages: dict[str, Callable[[str], object]], questions: list[str], count: int, heading: str) -> dict[str, list[float]]:
    """`turn_timings`, printed under `heading` with each stage's p50 and p95 and the machine's load around them."""
    load_before = os.getloadavg()[0]
    timings = turn_timings(stages, questions, count)
    print(f"{heading} (load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores):")
    width = max(map(len, timings))
    for label, values in timings.items():
        print(f"  {label:<{width}} p50 {percentile(values, 0.5):7.1f} ms  p95 {percentile(values, 0.95):7.1f} ms")
    return timings


def turn_timings(stages: dict[str, Callable[[str], object]], questions: list[str], count: int) -> dict[str, list[float]]:
    """Each stage's timings in ms; the stages take turns on each question, so a busy spell on a
    shared machine slows them all alike instead of whichever stage ran then."""
    timings: dict[str, list[float]] = {label: [] for label in stages}
    for i in range(count):
        for label, stage in stages.items():
            started = time.perf_counter()
            stage(questions[i % len(questions)])
            timings[label].append((time.perf_counter() - started) * 1000)
    return timings


if __name__ == "__main__":
    main()
