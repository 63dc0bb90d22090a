"""Grow a course's live index to a given size with filler rows written the way real rows are.

The filler goes through `write_document`, so its BM25 text is stemmed and carries the
heading path as a real chunk's does, and the generation is then sealed and indexed.
`ready` checks that before anything is timed: a benchmark whose setup silently skipped
a step measures the wrong index.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import numpy as np

from models import ALWAYS, Chunk, Locator
from rag.index import INSERT_BATCH, MilvusIndex

FILLER_HASH = "f" * 64
# Sealing and indexing 50k rows on 2 cores takes minutes; the ingest's default would give up early.
INDEX_TIMEOUT_S = 3600.0


def fill(
    index: MilvusIndex, course: str, rows: int, seed: int = 7, release_of: Callable[[int], int] | None = None
) -> tuple[str, int]:
    """Add filler rows to the course's live generation until it holds `rows`; its name and the filler count.

    Each filler row copies a real chunk's title, headings and locator, shuffles its
    words and adds noise to its vector, so BM25 and HNSW see realistic statistics.
    `release_of` gives filler row i its release time (default: released from the start).
    """
    generation = index.live_generation(course)
    if generation is None:
        raise SystemExit(f"course {course!r} has no index: ingest it before filling it")
    real = index.client.query(generation, filter="", output_fields=["*"], limit=16_384)
    filler = rows - len(real)
    if filler < 0:
        raise SystemExit(f"the course already holds {len(real)} chunks, more than the {rows} asked for")
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    vectors = np.array([row["dense"] for row in real], dtype=np.float32)
    for start in range(0, filler, INSERT_BATCH):
        chunks, batch_vectors = [], []
        for i in range(start, min(start + INSERT_BATCH, filler)):
            base = rng.randrange(len(real))
            words = real[base]["text"].split()
            headings = tuple(json.loads(real[base]["headings"]))
            chunks.append(
                Chunk(
                    id=f"filler-{i}",
                    course=course,
                    source=f"filler/{start // INSERT_BATCH}",
                    title=real[base]["title"],
                    headings=headings,
                    # The heading path real rows are embedded and BM25-indexed under (the chunker caps
                    # it; real titles and headings are short enough that the cap changes nothing).
                    context=" > ".join(part for part in (real[base]["title"], *headings) if part),
                    text=" ".join(rng.sample(words, len(words))),
                    locator=Locator.model_validate_json(real[base]["locator"]),
                    url=real[base]["url"] or None,
                    file_hash=FILLER_HASH,
                    release_at=release_of(i) if release_of else ALWAYS,
                )
            )
            vector = vectors[base] + noise.normal(0, 0.05, vectors.shape[1]).astype(np.float32)
            batch_vectors.append((vector / np.linalg.norm(vector)).tolist())
        index.write_document(generation, chunks[0].source, chunks, batch_vectors)
    index.finalize(generation, timeout=INDEX_TIMEOUT_S)
    return generation, filler


def ready(index: MilvusIndex, course: str, rows: int) -> str | None:
    """Why the course's index is not what a benchmark should time, or None when it holds `rows` rows, all indexed."""
    generation = index.live_generation(course)
    if generation is None:
        return f"course {course!r} has no index"
    count = index.count_chunks(course)
    if count != rows:
        return f"the index holds {count} rows, not {rows}"
    fields = [name for name in ("dense", "sparse") if name in index.client.list_indexes(generation)]
    if "dense" not in fields:
        return f"{generation} has no dense index"
    for name in fields:
        pending = index.client.describe_index(generation, name).get("pending_index_rows", 0)
        if pending:
            return f"{pending} rows of {generation} are not in its {name} index yet"
    return None
