"""A live generation of a Milvus Lite 3.x index, searched from this process's memory.

Milvus Lite 3.x is pure Python: at 50k chunks one hybrid search spends about 200 ms in
per-row loops (row versions, filter masks, BM25 postings; `python -m bench.speed`). A
course's rows change only when an ingest, a release date or a verified answer writes
them, so this process reads them once per change and answers from arrays: the cosine of
every vector in one matrix product, BM25 from postings held as arrays.

Milvus stays the store of record. Every write changes the collection's `REVISION`
property, and each search first asks Milvus which collection the alias names and at
which revision (one call), so a change any process writes is seen by the next search.
Until the changed rows are read again, in the background, searches go to Milvus as before.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from models import SearchMode
from rag.lexical import WORD

log = logging.getLogger(__name__)

REVISION = "mentor.revision"
"""A collection property that every write sets anew, so a copy can tell it is stale."""

ENTITY_FIELDS = ("source", "title", "headings", "locator", "url", "text")
READ_BATCH = 8_000
RETRY_S = 30.0
"""After a failed read, searches go to Milvus this long before the next try."""
# Milvus Lite's defaults for its BM25 function, which the Milvus path uses too.
BM25_K1 = 1.5
BM25_B = 0.75


class FusionLike(Protocol):
    method: str
    dense_weight: float
    rrf_k: int


@dataclass(frozen=True)
class LiveRevision:
    """What an alias points at now: the collection, and its rows' revision ("" before any write set one)."""

    collection: str
    revision: str


def new_revision() -> dict[str, str]:
    """The collection properties a write sets."""
    return {REVISION: uuid.uuid4().hex}


class MemoryGeneration:
    """One generation's rows as arrays: normalised vectors, BM25 postings, release times and the fields hits show."""

    def __init__(self, live: LiveRevision, rows: Sequence[Mapping[str, Any]]) -> None:
        self.live = live
        self.size = len(rows)
        self._ids = [row["id"] for row in rows]
        self._entities = [{field: row.get(field) or "" for field in ENTITY_FIELDS} for row in rows]
        vectors = np.asarray([row["dense"] for row in rows], dtype=np.float32).reshape(len(rows), -1 if rows else 0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self._vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        self._release_at = np.asarray([row.get("release_at", 0) for row in rows], dtype=np.int64)
        self._postings = _bm25_postings([row.get("search_text") or "" for row in rows])

    def search(
        self, terms: str, vector: Sequence[float], limit: int, mode: SearchMode, fusion: FusionLike, released_by: int | None
    ) -> list[dict[str, Any]]:
        """Hits shaped as Milvus returns them (`id`, `distance`, `entity`), best first, ranked as Milvus Lite ranks
        them: dense by cosine, BM25 by score, hybrid by its RRF or its weighted sum of normalised scores, and
        equal scores by id (rows are kept in id order)."""
        if not self.size:
            return []
        allowed = self._release_at <= released_by if released_by is not None else None
        routes: list[tuple[np.ndarray, np.ndarray]] = []
        if mode != "bm25":
            routes.append(self._dense(vector, allowed, limit))
        if mode != "dense":
            routes.append(self._bm25(terms, allowed, limit))
        if mode == "hybrid":
            return self._fused(routes, limit, fusion)
        rows, scores = routes[0]
        return [self._hit(row, score) for row, score in zip(rows.tolist(), scores.tolist())]

    def _dense(self, vector: Sequence[float], allowed: np.ndarray | None, limit: int) -> tuple[np.ndarray, np.ndarray]:
        question = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(question))
        scores = self._vectors @ (question / norm if norm > 0 else question)
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
        return _best(scores, limit)

    def _bm25(self, terms: str, allowed: np.ndarray | None, limit: int) -> tuple[np.ndarray, np.ndarray]:
        scores = np.zeros(self.size, dtype=np.float32)
        for term, count in Counter(_tokens(terms)).items():
            if (posting := self._postings.get(term)) is not None:
                rows, weights = posting
                scores[rows] += count * weights
        # As in Milvus, only a row holding a query term is a BM25 hit.
        matched = scores > 0
        return _best(np.where(matched & allowed if allowed is not None else matched, scores, -np.inf), limit)

    def _fused(self, routes: list[tuple[np.ndarray, np.ndarray]], limit: int, fusion: FusionLike) -> list[dict[str, Any]]:
        fused: dict[int, float] = {}
        if fusion.method == "rrf":
            for rows, _ in routes:
                for rank, row in enumerate(rows.tolist()):
                    fused[row] = fused.get(row, 0.0) + 1.0 / (fusion.rrf_k + rank + 1)
        else:
            (dense_rows, cosines), (bm25_rows, bm25_scores) = routes
            # Milvus Lite's `norm_score`: a cosine to (1 + c) / 2, a BM25 score to 2·atan(s)/π.
            for row, cosine in zip(dense_rows.tolist(), cosines.tolist()):
                fused[row] = fused.get(row, 0.0) + fusion.dense_weight * (1.0 + cosine) / 2.0
            for row, score in zip(bm25_rows.tolist(), bm25_scores.tolist()):
                fused[row] = fused.get(row, 0.0) + (1.0 - fusion.dense_weight) * 2.0 * math.atan(score) / math.pi
        best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [self._hit(row, score) for row, score in best]

    def _hit(self, row: int, score: float) -> dict[str, Any]:
        return {"id": self._ids[row], "distance": score, "entity": {**self._entities[row], "dense": self._vectors[row]}}


def _best(scores: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the `limit` highest finite scores, best first (ties by row), and their scores."""
    finite = int(np.count_nonzero(np.isfinite(scores)))
    count = min(limit, finite)
    if count == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    candidates = np.argpartition(-scores, count - 1)[:count] if count < len(scores) else np.arange(len(scores))
    ordered = candidates[np.lexsort((candidates, -scores[candidates]))]
    return ordered, scores[ordered]


def _tokens(text: str) -> list[str]:
    """Milvus Lite's standard analyzer: words, lower-cased (the stored text is stemmed already, `rag.lexical`)."""
    return WORD.findall(text.lower())


def _bm25_postings(texts: Iterable[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each term's rows and BM25 weights (IDF times saturated term frequency), with corpus-wide statistics.

    Milvus Lite scores each segment with that segment's own statistics; one set for the
    whole generation ranks a row the same wherever it was stored.
    """
    counts = [Counter(_tokens(text)) for text in texts]
    lengths = np.asarray([sum(count.values()) for count in counts], dtype=np.float32)
    average = float(lengths.mean()) if len(lengths) and lengths.mean() > 0 else 1.0
    saturation = BM25_K1 * (1.0 - BM25_B + BM25_B * lengths / average)
    rows_of: dict[str, list[int]] = defaultdict(list)
    frequencies_of: dict[str, list[int]] = defaultdict(list)
    for row, count in enumerate(counts):
        for term, frequency in count.items():
            rows_of[term].append(row)
            frequencies_of[term].append(frequency)
    postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    total = len(counts)
    for term, term_rows in rows_of.items():
        rows = np.asarray(term_rows, dtype=np.int64)
        frequency = np.asarray(frequencies_of[term], dtype=np.float32)
        idf = math.log((total - len(rows) + 0.5) / (len(rows) + 0.5) + 1.0)
        weights = idf * frequency * (BM25_K1 + 1.0) / (frequency + saturation[rows])
        postings[term] = (rows, weights.astype(np.float32))
    return postings


class MemoryCopies:
    """This process's copies of one client's live generations, one per alias, each read again in the background
    after a change.

    Bound to the client it was made with: once the index closes, a read still running
    fails on that client instead of opening the database again.
    """

    def __init__(self, client: Any, max_rows: int, load: Callable[[Any, str], None]) -> None:
        self._client = client
        self.max_rows = max_rows
        self._load = load
        self._copies: dict[str, MemoryGeneration] = {}
        self._reading: set[str] = set()
        self._too_big: set[LiveRevision] = set()
        self._failed_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self.closed = False

    def live(self, alias: str) -> LiveRevision:
        described = self._client.describe_collection(alias)
        return LiveRevision(described["collection_name"], str((described.get("properties") or {}).get(REVISION, "")))

    def _fresh(self, alias: str) -> tuple[LiveRevision, MemoryGeneration | None]:
        """What `alias` names now, and this process's copy of it if the copy is of that revision."""
        live = self.live(alias)
        copy = self._copies.get(alias)
        return live, copy if copy is not None and copy.live == live else None

    def current(self, alias: str) -> MemoryGeneration | None:
        """The copy of what `alias` names now, or None (search Milvus) while it is read, or when it is too big to keep."""
        live, copy = self._fresh(alias)
        if copy is not None:
            return copy
        with self._lock:
            if self.closed or alias in self._reading or live in self._too_big:
                return None
            if time.monotonic() - self._failed_at.get(alias, -RETRY_S) < RETRY_S:
                return None
            self._reading.add(alias)
        threading.Thread(target=self._refresh, args=(alias, live), name=f"memory-copy-{alias}", daemon=True).start()
        return None

    def load(self, alias: str) -> MemoryGeneration | None:
        """Read the alias's live generation now, in this thread (a service's warm-up, benchmarks); None if too big."""
        live, copy = self._fresh(alias)
        if copy is not None:
            return copy
        with self._lock:
            self._reading.add(alias)
        self._refresh(alias, live)
        return self._copies.get(alias)

    def close(self) -> None:
        self.closed = True
        self._copies.clear()

    def _refresh(self, alias: str, live: LiveRevision) -> None:
        try:
            rows = self._read(live)
            if rows is None:
                log.warning(
                    "%s holds more than %d chunks (milvus_memory_rows): it is searched in Milvus Lite, which is slower; "
                    "a Milvus server suits a course this size",
                    live.collection,
                    self.max_rows,
                )
                self._too_big.add(live)
                return
            copy = MemoryGeneration(live, rows)
            # Written to while it was read: the next search starts another read.
            if not self.closed and self.live(alias) == live:
                self._copies[alias] = copy
                log.info("%s: %d chunks searched from memory", live.collection, copy.size)
        except Exception as exc:  # a closed index, a generation dropped meanwhile: tried again later
            self._failed_at[alias] = time.monotonic()
            if not self.closed:
                log.warning("Could not read %s into memory (%s); it is searched in Milvus meanwhile", live.collection, exc)
        finally:
            with self._lock:
                self._reading.discard(alias)

    def _read(self, live: LiveRevision) -> list[dict[str, Any]] | None:
        """Every row a search can show, in pages by id (Milvus Lite returns a page sorted only in iterator mode)."""
        self._load(self._client, live.collection)
        counted = self._client.query(live.collection, filter="", output_fields=["count(*)"])
        if counted and int(counted[0]["count(*)"]) > self.max_rows:
            return None
        present = {field["name"] for field in self._client.describe_collection(live.collection).get("fields", [])}
        fields = ["id", *ENTITY_FIELDS, "dense", *(name for name in ("release_at", "search_text") if name in present)]
        rows: list[dict[str, Any]] = []
        last: str | None = None
        while True:
            page = self._client.query(
                live.collection,
                filter=f"id > {json.dumps(last)}" if last is not None else "",
                output_fields=fields,
                limit=READ_BATCH,
                iterator="True",
                reduce_stop_for_best="True",
            )
            rows.extend(page)
            if len(page) < READ_BATCH:
                return rows
            last = page[-1]["id"]
