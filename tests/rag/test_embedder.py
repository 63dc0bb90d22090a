"""Question embeddings: one per question however its callers space it, on one torch thread."""

from __future__ import annotations

import pytest
import torch

import rag.embedder
from rag.embedder import QUERY_THREADS, SentenceTransformerEmbedder


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], int]]:
    """Each call of the real encoder: its texts and the torch threads it ran with."""
    calls: list[tuple[list[str], int]] = []
    real = rag.embedder._encode

    def counted(model: object, texts: list[str], batch_size: int) -> list[list[float]]:
        calls.append((list(texts), torch.get_num_threads()))
        return real(model, texts, batch_size)  # type: ignore[arg-type]

    monkeypatch.setattr(rag.embedder, "_encode", counted)
    return calls


def test_a_question_spelled_by_the_search_quote_mode_and_the_repeat_check_is_embedded_once(
    embedder: SentenceTransformerEmbedder, encodes: list[tuple[list[str], int]]
) -> None:
    as_sent = "  Why does my loop\n    for x in items:\n        print(x)\nprint nothing? "
    search = embedder.embed_query(" ".join(as_sent.split()))
    quote_mode = embedder.embed_query("\n".join(line.rstrip() for line in as_sent.strip().splitlines()))
    repeat_check = embedder.embed_query(as_sent)
    assert [texts for texts, _ in encodes] == [["Why does my loop for x in items: print(x) print nothing?"]]
    assert search == quote_mode == repeat_check


def test_a_question_is_embedded_on_one_thread_and_the_callers_threads_are_left_as_they_were(
    embedder: SentenceTransformerEmbedder, encodes: list[tuple[list[str], int]]
) -> None:
    torch.set_num_threads(2)
    embedder.embed_query("does continue inside a nested while loop skip the outer loop too?")
    assert [threads for _, threads in encodes] == [QUERY_THREADS]
    assert torch.get_num_threads() == 2
    embedder.embed_documents(["A while loop repeats while its condition holds."])
    assert encodes[-1][1] == 2
