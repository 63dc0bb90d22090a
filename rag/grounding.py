"""Does the course cover a question? A score from the passages retrieval found for it.

Two signals, because neither is enough alone on MiniLM: the cosine similarity of the
question and a passage (meaning), and the share of the question's content words that
the passage contains (evidence). A question about Java in a Python course sits close to
the Python passages in meaning but finds no "Java" in them; a terse question about a
long PDF page shares its words but not much of its vector.
"""

from __future__ import annotations

from collections.abc import Sequence

from models import SearchHit
from rag.lexical import share_of_terms, terms_of

LEXICAL_WEIGHT = 0.25
"""Chosen with `bench.answers`, which prints the calibration for nearby weights; kept, with
`answer.min_relevance`, by `bench.grounding_cv`, which cross-validates this shape and three
others over both eval courses (README, "Grounding")."""


def grounding_score(question: str, hits: Sequence[SearchHit], lexical_weight: float = LEXICAL_WEIGHT) -> float:
    """The best passage's similarity plus `lexical_weight` times its share of the question's words."""
    terms = terms_of(question)
    best = -1.0
    for hit in hits:
        similarity = hit.similarity if hit.similarity is not None else hit.score
        coverage = share_of_terms(terms, " ".join((hit.title, *hit.headings, hit.text)))
        best = max(best, similarity + lexical_weight * coverage)
    return best
