"""Vectors of texts already embedded, kept for the next question that reads them."""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from collections.abc import Sequence

from rag.embedder import Embedder


class VectorCache:
    """A bounded, least-recently-used map from a text to its document vector.

    Keyed by the text itself, so a reindex that changes a passage never serves a stale
    vector, and an unchanged one keeps its vectors across index generations. Vectors are
    stored as 32-bit floats (1.5 kB for MiniLM's 384), not lists of Python floats (12 kB).
    Safe to share between the threads that answer questions.
    """

    def __init__(self, embedder: Embedder, size: int, batch: int = 8) -> None:
        """`batch`: texts embedded together, of similar length. A batch is padded to its longest
        text, so one code block in a batch of short sentences made them all cost as much as it."""
        self.embedder = embedder
        self.size = size
        self.batch = batch
        self._vectors: OrderedDict[str, array[float]] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[array[float]]:
        """The vector of each text, in order; one `embed_documents` call for those not cached."""
        with self._lock:
            known = {text: self._vectors[text] for text in texts if text in self._vectors}
        missing = sorted((text for text in dict.fromkeys(texts) if text not in known), key=len)
        fresh: dict[str, array[float]] = {}
        for start in range(0, len(missing), self.batch):
            group = missing[start : start + self.batch]
            fresh.update(zip(group, (array("f", vector) for vector in self.embedder.embed_documents(group))))
        with self._lock:
            for text in dict.fromkeys(texts):
                self._vectors[text] = known.get(text) or fresh[text]
                self._vectors.move_to_end(text)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return [known.get(text) or fresh[text] for text in texts]

    def __len__(self) -> int:
        return len(self._vectors)
