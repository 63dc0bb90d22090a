"""Search latency at 50k chunks on Milvus Lite, model load excluded.

The eval course's real chunks are joined by filler chunks up to 50,000 rows: their
text is shuffled words of the real chunks and their vectors are real vectors with
noise, so BM25 and HNSW work on realistic statistics. Each query is timed end to end
as a student's question is served: embed the question, hybrid search, build the hits.

    .venv/bin/python -m bench.speed [--rows 50000] [--queries 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.evalset import COURSE_DIR, load_questions
from bot.app import MentorApp
from bot.config.settings import Settings
from bot.ops.logs import configure_logging
from models import Course
from rag.index import INSERT_BATCH, collection_name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    configure_logging()
    rng = random.Random(7)

    with tempfile.TemporaryDirectory() as data_dir:
        mentor = MentorApp(Settings(data_dir=Path(data_dir), courses=[Course(name="eval", sources=(COURSE_DIR,))]))
        mentor.embedder.warm_up()
        mentor.ingest("eval")
        name = collection_name("eval")
        real = mentor.index.client.query(name, filter="", output_fields=["*"], limit=16_384)
        filler = args.rows - len(real)
        print(f"{len(real)} real chunks + {filler} filler chunks = {args.rows} rows")

        started = time.perf_counter()
        vectors = np.array([row["dense"] for row in real], dtype=np.float32)
        words = [row["text"].split() for row in real]
        for start in range(0, filler, INSERT_BATCH):
            rows = []
            for i in range(start, min(start + INSERT_BATCH, filler)):
                base = rng.randrange(len(real))
                vector = vectors[base] + np.random.default_rng(i).normal(0, 0.05, vectors.shape[1]).astype(np.float32)
                text = " ".join(rng.sample(words[base], len(words[base])))
                rows.append({**{k: real[base][k] for k in ("source", "title", "headings", "locator", "url", "file_hash")},
                             "id": f"filler-{i}", "text": text, "search_text": text,
                             "dense": (vector / np.linalg.norm(vector)).tolist()})
            mentor.index.client.insert(name, rows)
        mentor.index.finalize("eval")
        print(f"filled in {time.perf_counter() - started:.0f} s; chunks in the index: {mentor.index.count_chunks('eval')}")
        mentor.close()

        # Measure as a service sees it: a process that opened the finished index.
        mentor = MentorApp(mentor.settings)
        mentor.embedder.warm_up()

        questions = [q.question for q in load_questions()]
        for question in questions[:10]:  # warm caches, as a running service has them
            mentor.search(question, "eval")
        index, embedder = mentor.index, mentor.embedder
        vectors_by_question = {q: embedder.embed_query(q) for q in questions}
        stages = {
            "embed the question": lambda q: embedder.embed_query(q),
            "dense search": lambda q: index.search("eval", q, vectors_by_question[q], k=5, mode="dense"),
            "BM25 search": lambda q: index.search("eval", q, vectors_by_question[q], k=5, mode="bm25"),
            "hybrid search": lambda q: index.search("eval", q, vectors_by_question[q], k=5, mode="hybrid"),
            "end to end (embed + default search)": lambda q: mentor.search(q, "eval"),
        }
        print(f"{args.queries} queries at {args.rows} chunks:")
        for label, stage in stages.items():
            p50, p95 = _percentiles(stage, questions, args.queries)
            print(f"  {label:<38} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
        print("target: end to end p95 <= 50 ms")
        mentor.close()


def _percentiles(stage, questions: list[str], count: int) -> tuple[float, float]:
    timings = []
    for i in range(count):
        started = time.perf_counter()
        stage(questions[i % len(questions)])
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(0.95 * len(timings)) - 1]


if __name__ == "__main__":
    main()
