"""Search over a course's index: embed the question, then dense, BM25 or both fused, then rerank."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from models import Clock, SearchMode, SearchResult, epoch_seconds, utc_now
from rag.embedder import Embedder
from rag.errors import EmptyQueryError, RerankerUnavailableError
from rag.index import Fusion, MilvusIndex
from rag.rerank import Reranker

log = logging.getLogger(__name__)


@dataclass
class HybridRetriever:
    """Finds the pages and sections that answer a question.

    With a reranker the first stage gathers `candidates` distinct sections (at least k),
    reordered before the top k are kept; without one it gathers k, since more cost the
    search time and by themselves did not rank better (`bench.retrieval`). A reranker
    that cannot load leaves the first stage's order, logged once and shown by
    `reranker_problem()`.

    >>> retriever = HybridRetriever(index, embedder)
    >>> retriever.search("cs101", "how do I stop a loop early?").hits[0].url   # doctest: +SKIP
    'https://cs101.example.edu/notes/02-control-flow.md#break-and-continue'
    """

    index: MilvusIndex
    embedder: Embedder
    mode: SearchMode = "hybrid"
    fusion: Fusion = Fusion()
    k: int = 5
    reranker: Reranker | None = None
    candidates: int = 30
    clock: Clock = utc_now
    """What "now" is for release dates; tests freeze it."""
    _failure: str | None = field(default=None, init=False, repr=False, compare=False)

    def search(self, course: str, query: str, *, k: int | None = None, mode: SearchMode | None = None) -> SearchResult:
        text = " ".join(query.split())
        if not text:
            raise EmptyQueryError("The question is empty: ask something about the course materials.")
        mode = mode or self.mode
        k = k or self.k
        vector = self.embedder.embed_query(text)
        reranking = self.reranker is not None and self._failure is None
        hits = self.index.search(
            course,
            text,
            vector,
            k=max(k, self.candidates) if reranking else k,
            mode=mode,
            fusion=self.fusion,
            released_by=epoch_seconds(self.clock()),
        )
        if reranking:
            try:
                hits = self.reranker.rerank(text, hits)
            except RerankerUnavailableError as exc:
                self._failure = str(exc)
                log.warning("the %s reranker cannot run, so search keeps the first stage's order: %s", self.reranker.name, exc)
        return SearchResult(query=text, course=course, mode=mode, hits=hits[:k])

    def reranker_problem(self) -> str | None:
        """Why the configured reranker is not reordering hits; None when it is, or when there is none."""
        if self.reranker is None:
            return None
        return self._failure or self.reranker.problem()
