"""Second-stage ranking: re-score the first stage's candidate sections before the top k are kept.

Each reranker reads only what a hit already carries (its text, headings and cosine
similarity to the question), so none adds a round trip to Milvus. Which one is the
default (`lexical` 0.9 over 30 candidates), and its weights, was chosen with the fusion by
cross-validation over both eval courses (`python -m bench.fusion_cv`; `python -m
bench.retrieval` prints every one beside the first stage, on both eval sets).

>>> LexicalReranker().rerank("stop a loop early", hits)[0].title   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from models import SearchHit
from rag.errors import RerankerUnavailableError
from rag.lexical import bm25_text

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

log = logging.getLogger(__name__)

RerankName = Literal["none", "lexical", "mmr", "cross-encoder"]


class Reranker(Protocol):
    """Orders candidate hits best first; the score it puts on each hit is its own."""

    name: str

    def rerank(self, query: str, hits: list[SearchHit]) -> list[SearchHit]: ...

    def problem(self) -> str | None:
        """Why it cannot run, found without loading anything heavy; None when it can."""
        ...


def hit_text(hit: SearchHit) -> str:
    """What a section says, with the title and heading path it was indexed under."""
    return " ".join((hit.title, *hit.headings, hit.text))


def candidate_bm25(query: str, texts: list[str], k1: float = 1.2, b: float = 0.75) -> list[float]:
    """BM25 of each text against the query, with term rarity counted among these texts only.

    Within one question's candidates a term every page shares says nothing, which the
    collection-wide BM25 of the first stage cannot see.
    """
    docs = [Counter(bm25_text(text).split()) for text in texts]
    if not docs:
        return []
    terms = set(bm25_text(query).split())
    rarity = {}
    for term in terms:
        seen_in = sum(1 for doc in docs if doc[term])
        rarity[term] = math.log(1 + (len(docs) - seen_in + 0.5) / (seen_in + 0.5))
    lengths = [sum(doc.values()) for doc in docs]
    average = sum(lengths) / len(docs) or 1.0
    scores = []
    for doc, length in zip(docs, lengths):
        norm = k1 * (1 - b + b * length / average)
        scores.append(sum(rarity[term] * doc[term] * (k1 + 1) / (doc[term] + norm) for term in terms if doc[term]))
    return scores


def _ordered(scored: list[tuple[float, SearchHit]]) -> list[SearchHit]:
    # A stable sort keeps the first stage's order among equal scores.
    return [hit.model_copy(update={"score": score}) for score, hit in sorted(scored, key=lambda pair: -pair[0])]


@dataclass(frozen=True)
class LexicalReranker:
    """The question's cosine similarity, plus BM25 over the candidates' own text."""

    dense_weight: float = 0.9
    name: str = "lexical"

    def rerank(self, query: str, hits: list[SearchHit]) -> list[SearchHit]:
        lexical = candidate_bm25(query, [hit_text(hit) for hit in hits])
        top = max(lexical, default=0.0) or 1.0
        return _ordered(
            [(self.dense_weight * (hit.similarity or 0.0) + (1 - self.dense_weight) * (s / top), hit) for s, hit in zip(lexical, hits)]
        )

    def problem(self) -> str | None:
        return None


@dataclass(frozen=True)
class MmrReranker:
    """Maximal marginal relevance: a page much like one already kept moves down.

    Relevance is the first stage's score; likeness is the overlap of stemmed words, so
    two near-identical pages (a manual's repeated boilerplate) do not fill the top five.
    """

    relevance_weight: float = 0.95
    name: str = "mmr"

    def rerank(self, query: str, hits: list[SearchHit]) -> list[SearchHit]:
        words = [set(bm25_text(hit_text(hit)).split()) for hit in hits]
        top = max((hit.score for hit in hits), default=0.0) or 1.0
        # Each candidate's likeness to the most similar page kept so far, updated as pages are kept.
        likeness = [0.0] * len(hits)
        left = list(range(len(hits)))
        kept: list[tuple[float, SearchHit]] = []
        while left:
            values = {i: self.relevance_weight * hits[i].score / top - (1 - self.relevance_weight) * likeness[i] for i in left}
            best = max(left, key=values.__getitem__)
            kept.append((values[best], hits[best]))
            left.remove(best)
            for i in left:
                likeness[i] = max(likeness[i], len(words[i] & words[best]) / (len(words[i] | words[best]) or 1))
        return [hit.model_copy(update={"score": score}) for score, hit in kept]

    def problem(self) -> str | None:
        return None


class CrossEncoderReranker:
    """A sentence-transformers cross-encoder from a local folder (nothing is downloaded).

    None ships in a package (the registries hold no cross-encoder with its weights inside),
    so this is for a deployment that puts one on disk, e.g. ms-marco-MiniLM-L-6-v2.
    Loaded on first use; a folder that cannot load raises `RerankerUnavailableError`.
    """

    name = "cross-encoder"

    def __init__(self, folder: str | Path, device: str = "cpu") -> None:
        self._folder = Path(folder).expanduser()
        self._device = device
        self._model: CrossEncoder | None = None
        self._lock = threading.Lock()

    def problem(self) -> str | None:
        if not (self._folder / "config.json").is_file():
            return f"the cross-encoder folder {self._folder} holds no config.json: set search.rerank_model to a local model folder"
        return None

    def rerank(self, query: str, hits: list[SearchHit]) -> list[SearchHit]:
        with self._lock:
            scores = self._loaded().predict([(query, hit_text(hit)) for hit in hits], show_progress_bar=False)
        return _ordered([(float(score), hit) for score, hit in zip(scores, hits)])

    def _loaded(self) -> CrossEncoder:
        if self._model is None:
            if problem := self.problem():
                raise RerankerUnavailableError(problem)
            from sentence_transformers import CrossEncoder

            try:
                self._model = CrossEncoder(str(self._folder), device=self._device, local_files_only=True)
            except Exception as exc:  # a broken folder fails in many library-specific ways
                raise RerankerUnavailableError(f"could not load the cross-encoder from {self._folder}: {exc}") from exc
        return self._model


def make_reranker(name: RerankName, *, dense_weight: float, model: str | None, device: str = "cpu") -> Reranker | None:
    """The reranker a `search.rerank` setting names; None for `none`."""
    if name == "lexical":
        return LexicalReranker(dense_weight)
    if name == "mmr":
        return MmrReranker()
    if name == "cross-encoder":
        return CrossEncoderReranker(model or "", device)
    return None
