"""Searching a course: dense, BM25 or both fused, one hit per page or section."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

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

    method: str = "weighted"
    """`weighted` (normalised scores, weighted sum) or `rrf` (reciprocal rank fusion).

    Weighted 0.6/0.4 is the default because it measured best on the eval set
    (`python -m bench.retrieval`); plain RRF ranked the gold section lower there.
    """
    dense_weight: float = 0.6
    rrf_k: int = 60


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
        self._load(name)
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
        raw = self._search(name, terms, vector, limit, mode, fusion, self._release_filter(name, released_by))
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
    for item in raw:
        entity = item["entity"]
        key = (entity["source"], entity["locator"])
        similarity = _cosine(query_vector, entity["dense"])
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


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
