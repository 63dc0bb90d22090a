"""Searching a course: dense, BM25 or both fused, one hit per page or section."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models import Locator, SearchHit, SearchMode
from rag.errors import UnknownCourseIndexError
from rag.index.connection import MilvusConnection, milvus_errors
from rag.lexical import bm25_text

log = logging.getLogger(__name__)

# The vector comes back so every hit gets a cosine similarity to the question, a relevance
# figure that means the same in every search mode (fused scores do not).
OUTPUT_FIELDS = ["source", "title", "headings", "locator", "url", "text", "dense"]


@dataclass(frozen=True)
class Fusion:
    """How dense and BM25 results are combined in hybrid search."""

    method: str = "rrf"
    """`rrf` (reciprocal rank fusion) or `weighted` (normalised scores, weighted sum).

    RRF (k = 20, followed by the lexical reranker) is the default because it held up best
    under cross-validation over both eval courses (`python -m bench.fusion_cv`): weighted
    fusion's best weight moved with the material (0.6 on the shared course, 0.9 on the PDF
    manuals), RRF's ranks did not.
    """
    dense_weight: float = 0.6
    rrf_k: int = 20


class Search(MilvusConnection):
    @milvus_errors
    def count_chunks(self, course: str) -> int:
        name = self.searched_collection(course)
        if not self.client.has_collection(name):
            return 0
        self._load(name)
        rows = self.client.query(name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    @milvus_errors
    def search(
        self,
        course: str,
        query: str,
        vector: list[float],
        *,
        k: int = 5,
        mode: SearchMode = "hybrid",
        fusion: Fusion = Fusion(),
        released_by: int | None = None,
    ) -> list[SearchHit]:
        """The k best sections for a query, at most one hit per page or section.

        `released_by` (UTC epoch seconds, now) leaves out every chunk released later, inside
        Milvus, so material appears at its release time with no reindex. None searches all
        (benchmarks and tools); students' searches always pass it (`HybridRetriever`).
        """
        name = self.searched_collection(course)
        if not self.client.has_collection(name):
            raise UnknownCourseIndexError(
                f"The course {course!r} has no index yet: run `mentor ingest --course {course}` first."
            )
        if mode != "dense" and not self._has_bm25(name):
            if not self._noticed_dense_only:
                log.warning("Milvus at %s has no BM25 (it needs Milvus >= 2.5): searching dense vectors only", self.uri)
                self._noticed_dense_only = True
            mode = "dense"
        terms = bm25_text(query)
        if not terms:
            # Nothing but stop words: only the dense side can tell one page from another.
            mode = "dense"
        limit = k * 3
        expr = self._release_filter(name, released_by)
        copy = self.memory.current(name) if self.searches_from_memory else None
        if copy is not None:
            raw = copy.search(terms, vector, limit, mode, fusion, released_by if expr else None)
        else:
            raw = self._search(name, terms, vector, limit, mode, fusion, expr)
        return _distinct_sections(raw, k, vector, negated=mode == "bm25")

    def _release_filter(self, name: str, released_by: int | None) -> str:
        if released_by is None:
            return ""
        if not self._has_release(name):
            if not self._noticed_no_release.get(name):
                log.warning(
                    "%s was built before release dates and shows every file: run `mentor reindex` to rebuild it with them", name
                )
                self._noticed_no_release[name] = True
            return ""
        return f"release_at <= {int(released_by)}"

    def _search(
        self, name: str, terms: str, vector: list[float], limit: int, mode: SearchMode, fusion: Fusion, expr: str
    ) -> list[dict]:
        from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

        self._load(name)

        dense_params = {"metric_type": "COSINE", "params": {"ef": max(64, limit)}}
        bm25_params = {"metric_type": "BM25"}
        if mode == "dense":
            result = self.client.search(
                name, [vector], filter=expr, anns_field="dense", limit=limit, search_params=dense_params, output_fields=OUTPUT_FIELDS
            )
        elif mode == "bm25":
            result = self.client.search(
                name, [terms], filter=expr, anns_field="sparse", limit=limit, search_params=bm25_params, output_fields=OUTPUT_FIELDS
            )
        else:
            requests = [
                AnnSearchRequest([vector], "dense", dense_params, limit, expr=expr or None),
                AnnSearchRequest([terms], "sparse", bm25_params, limit, expr=expr or None),
            ]
            ranker = (
                RRFRanker(fusion.rrf_k)
                if fusion.method == "rrf"
                else WeightedRanker(fusion.dense_weight, 1.0 - fusion.dense_weight, norm_score=True)
            )
            result = self.client.hybrid_search(name, requests, ranker, limit=limit, output_fields=OUTPUT_FIELDS)
        return list(result[0]) if result else []


def _distinct_sections(raw: list[dict], k: int, query_vector: list[float], negated: bool) -> list[SearchHit]:
    """Keep the best chunk of each page or section, so k hits point at k places.

    A section's similarity is its most similar candidate chunk's, which need not be the
    chunk that ranked first.
    """
    hits: dict[tuple[str, str], SearchHit] = {}
    for item, similarity in zip(raw, _cosines(query_vector, [item["entity"]["dense"] for item in raw])):
        entity = item["entity"]
        key = (entity["source"], entity["locator"])
        if key in hits:
            if similarity > (hits[key].similarity or 0.0):
                hits[key] = hits[key].model_copy(update={"similarity": similarity})
            continue
        if len(hits) == k:
            continue
        hits[key] = SearchHit(
            source=entity["source"],
            title=entity["title"],
            headings=tuple(json.loads(entity["headings"] or "[]")),
            locator=Locator.model_validate_json(entity["locator"]),
            url=entity["url"] or None,
            # Milvus Lite reports BM25 scores negated; a BM25 score is never below zero.
            score=abs(float(item["distance"])) if negated else float(item["distance"]),
            text=entity["text"],
            similarity=similarity,
        )
    return list(hits.values())


def _cosines(query: Sequence[float], vectors: Sequence[Sequence[float]]) -> list[float]:
    """The cosine similarity of each vector to the query, 0 for a zero vector.

    In one matrix product: a search with 30 candidates reads 90 chunks, and a Python loop
    over their 384 floats each cost more than Milvus Lite's dense search (`bench.speed`).
    """
    if not vectors:
        return []
    matrix = np.asarray(vectors, dtype=np.float64)
    question = np.asarray(query, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(question)
    return np.divide(matrix @ question, norms, out=np.zeros(len(vectors)), where=norms > 0).tolist()
