"""The quote picker's vector cache, around the real MiniLM."""

from __future__ import annotations

from rag.embedder import SentenceTransformerEmbedder
from rag.vector_cache import VectorCache


class Counting:
    """The real embedder, counting the texts it is asked to embed, and in which calls."""

    def __init__(self, embedder: SentenceTransformerEmbedder) -> None:
        self.embedder = embedder
        self.embedded: list[str] = []
        self.calls: list[list[str]] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += texts
        self.calls.append(list(texts))
        return self.embedder.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text)


def test_each_text_is_embedded_once_until_it_is_the_least_recently_used(embedder: SentenceTransformerEmbedder) -> None:
    counting = Counting(embedder)
    cache = VectorCache(counting, size=2)  # type: ignore[arg-type]
    first = cache.embed(["a list is mutable", "a tuple is not", "a list is mutable"])
    assert sorted(counting.embedded) == ["a list is mutable", "a tuple is not"] and first[0] == first[2]
    expected = embedder.embed_documents(["a list is mutable"])[0]
    assert max(abs(a - b) for a, b in zip(first[0], expected)) < 1e-6
    cache.embed(["a list is mutable"])
    cache.embed(["sets hold no duplicates"])
    assert len(cache) == 2 and counting.embedded[2:] == ["sets hold no duplicates"]
    cache.embed(["a list is mutable", "a tuple is not"])
    assert counting.embedded[3:] == ["a tuple is not"], "the least recently used went first"


def test_texts_are_embedded_in_small_batches_of_similar_length(embedder: SentenceTransformerEmbedder) -> None:
    counting = Counting(embedder)
    code = "for item in items:\n    if item.done:\n        break\n" * 8
    short = [f"sentence number {n} is short" for n in range(5)]
    vectors = VectorCache(counting, size=100, batch=3).embed([code, *short])  # type: ignore[arg-type]
    assert [len(call) for call in counting.calls] == [3, 3], "six texts in batches of three"
    assert code in counting.calls[-1], "the long text pads only the batch of the longest texts"
    expected = embedder.embed_documents([code])[0]
    assert max(abs(a - b) for a, b in zip(vectors[0], expected)) < 1e-5, "each vector stays with its own text"
