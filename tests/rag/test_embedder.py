"""Question embeddings: one per question however its callers space it."""

from __future__ import annotations

import pytest

import rag.embedder
from rag.embedder import SentenceTransformerEmbedder


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The texts of each call of the real encoder."""
    calls: list[list[str]] = []
    real = rag.embedder._encode

    def counted(model: object, texts: list[str], batch_size: int) -> list[list[float]]:
        calls.append(list(texts))
        return real(model, texts, batch_size)  # type: ignore[arg-type]

    monkeypatch.setattr(rag.embedder, "_encode", counted)
    return calls


def test_a_question_spelled_by_the_search_quote_mode_and_the_repeat_check_is_embedded_once(
    embedder: SentenceTransformerEmbedder, encodes: list[list[str]]
) -> None:
    as_sent = "  Why does my loop\n    for x in items:\n        print(x)\nprint nothing? "
    search = embedder.embed_query(" ".join(as_sent.split()))
    quote_mode = embedder.embed_query("\n".join(line.rstrip() for line in as_sent.strip().splitlines()))
    repeat_check = embedder.embed_query(as_sent)
    assert encodes == [["Why does my loop for x in items: print(x) print nothing?"]]
    assert search == quote_mode == repeat_check



def test_questions_run_on_one_torch_thread_of_their_own_and_other_threads_keep_theirs() -> None:
    import threading

    import torch

    embedder = SentenceTransformerEmbedder()
    before = torch.get_num_threads()
    question = embedder.embed_query("how do I stop a loop early?")
    assert embedder._question_thread().submit(torch.get_num_threads).result() == 1
    assert torch.get_num_threads() == before
    seen: list[int] = []
    later = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    later.start()
    later.join()
    assert seen == [before]
    # The same model on one thread: the vector a document of the same text gets.
    assert question == pytest.approx(embedder.embed_documents(["how do I stop a loop early?"])[0], abs=1e-5)
