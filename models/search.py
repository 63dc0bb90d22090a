"""Search results, as the CLI prints them and the answerer reads them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from models.documents import Locator

SearchMode = Literal["dense", "bm25", "hybrid"]


class SearchHit(BaseModel):
    source: str
    title: str
    headings: tuple[str, ...] = ()
    locator: Locator
    url: str | None = None
    score: float
    """The search mode's own score (fused, cosine or BM25): orders hits within one search."""
    text: str
    similarity: float | None = None
    """Cosine similarity of the question and this chunk, the same in every mode: the grounding check reads it."""

    def to_json(self) -> dict[str, object]:
        """The documented JSON shape of one hit (`mentor search --json`)."""
        return {
            "source": self.source,
            "page": self.locator.page,
            "page_label": self.locator.page_label,
            "anchor": self.locator.anchor,
            "title": self.title,
            "url": self.url,
            "score": round(self.score, 6),
            "text": self.text,
        }


class SearchResult(BaseModel):
    query: str
    course: str
    mode: SearchMode
    hits: list[SearchHit]

    def to_json(self) -> dict[str, object]:
        return {"query": self.query, "hits": [hit.to_json() for hit in self.hits]}
