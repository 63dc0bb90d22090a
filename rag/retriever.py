"""Search over a course's index: embed the question, then dense, BM25 or both fused."""

from __future__ import annotations

from dataclasses import dataclass

from models import SearchMode, SearchResult
from rag.embedder import Embedder
from rag.errors import EmptyQueryError
from rag.index import Fusion, MilvusIndex


@dataclass
class HybridRetriever:
    """Finds the pages and sections that answer a question.

    >>> retriever = HybridRetriever(index, embedder)
    >>> retriever.search("cs101", "how do I stop a loop early?").hits[0].url   # doctest: +SKIP
    'https://cs101.example.edu/notes/02-control-flow.md#break-and-continue'
    """

    index: MilvusIndex
    embedder: Embedder
    mode: SearchMode = "hybrid"
    fusion: Fusion = Fusion()
    k: int = 5

    def search(self, course: str, query: str, *, k: int | None = None, mode: SearchMode | None = None) -> SearchResult:
        text = " ".join(query.split())
        if not text:
            raise EmptyQueryError("The question is empty: ask something about the course materials.")
        mode = mode or self.mode
        vector = self.embedder.embed_query(text)
        hits = self.index.search(course, text, vector, k=k or self.k, mode=mode, fusion=self.fusion)
        return SearchResult(query=text, course=course, mode=mode, hits=hits)
