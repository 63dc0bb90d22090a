"""Second-stage ranking: each reranker on real hits from Milvus Lite and MiniLM, and the fallback
when a reranker cannot load."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from models import Locator, SearchHit
from rag.embedder import SentenceTransformerEmbedder, packaged_minilm_path
from rag.index import MilvusIndex
from rag.rerank import CrossEncoderReranker, LexicalReranker, MmrReranker
from rag.retriever import HybridRetriever
from tests.rag.test_index import fill

QUESTION = "why does my default list keep its items between calls?"


@pytest.fixture
def retriever(lite_index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> HybridRetriever:
    fill(lite_index, embedder)
    return HybridRetriever(lite_index, embedder, k=3)


def hit(source: str, text: str, score: float, similarity: float) -> SearchHit:
    return SearchHit(source=source, title="Manual", locator=Locator(page=1), score=score, text=text, similarity=similarity)


def tiny_cross_encoder(folder: Path) -> Path:
    """A real (untrained, seeded) BERT cross-encoder with MiniLM's vocabulary, saved the way a deployment would."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(packaged_minilm_path()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, num_labels=1
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_reranker_that_cannot_load_leaves_the_first_stage_order_and_says_so_once(
    retriever: HybridRetriever, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first_stage = [h.source for h in retriever.search("cs101", QUESTION).hits]
    broken = HybridRetriever(retriever.index, retriever.embedder, k=3, reranker=CrossEncoderReranker(tmp_path / "no-such-model"))
    assert "no-such-model" in (broken.reranker_problem() or "")
    with caplog.at_level(logging.WARNING, logger="rag.retriever"):
        for _ in range(2):
            assert [h.source for h in broken.search("cs101", QUESTION).hits] == first_stage
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cross-encoder reranker cannot run" in warnings[0] and "no-such-model" in warnings[0]
    assert "search.rerank_model" in (broken.reranker_problem() or "")


def test_a_cross_encoder_from_a_local_folder_orders_the_candidates_by_its_own_scores(
    retriever: HybridRetriever, tmp_path: Path
) -> None:
    from sentence_transformers import CrossEncoder

    folder = tiny_cross_encoder(tmp_path / "cross-encoder")
    reranked = HybridRetriever(retriever.index, retriever.embedder, k=3, reranker=CrossEncoderReranker(folder))
    hits = reranked.search("cs101", QUESTION).hits
    assert reranked.reranker_problem() is None
    candidates = retriever.search("cs101", QUESTION, k=30).hits
    scores = CrossEncoder(str(folder), local_files_only=True).predict([(QUESTION, " ".join((h.title, *h.headings, h.text))) for h in candidates])
    expected = [h.source for _, h in sorted(zip(scores, candidates), key=lambda pair: -pair[0])][:3]
    assert [h.source for h in hits] == expected
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_the_first_stage_gathers_the_candidates_and_the_top_k_are_kept(retriever: HybridRetriever) -> None:
    """Four sections are indexed: a reranker sees all four, the caller gets k."""
    seen: list[int] = []

    class Reverse:
        name = "reverse"

        def rerank(self, query: str, hits: list[SearchHit]) -> list[SearchHit]:
            seen.append(len(hits))
            return hits[::-1]

        def problem(self) -> str | None:
            return None

    first_stage = [h.source for h in retriever.search("cs101", QUESTION, k=4).hits]
    reversed_ = HybridRetriever(retriever.index, retriever.embedder, k=2, reranker=Reverse(), candidates=30)
    assert [h.source for h in reversed_.search("cs101", QUESTION).hits] == first_stage[::-1][:2]
    assert seen == [4]


def test_lexical_reranking_lifts_the_page_that_holds_the_question_s_rarer_words() -> None:
    shared = "a list is a sequence of items"
    hits = [
        hit("a.pdf", f"{shared}; lists are everywhere", score=0.9, similarity=0.52),
        hit("b.pdf", f"{shared}; a mutable default list is evaluated only once", score=0.8, similarity=0.50),
    ]
    assert [h.source for h in LexicalReranker(0.7).rerank("mutable default list", hits)] == ["b.pdf", "a.pdf"]
    # All dense: the cosine alone decides.
    assert [h.source for h in LexicalReranker(1.0).rerank("mutable default list", hits)] == ["a.pdf", "b.pdf"]


def test_mmr_moves_a_near_copy_of_a_kept_page_below_a_different_one() -> None:
    boilerplate = "permission is granted to copy distribute and modify this document under the terms of the licence"
    hits = [
        hit("m.pdf", boilerplate, score=0.90, similarity=0.5),
        hit("m.pdf", boilerplate + " version", score=0.89, similarity=0.5),
        hit("m.pdf", "signals are delivered to a process asynchronously", score=0.80, similarity=0.5),
    ]
    assert [h.text for h in MmrReranker(0.8).rerank("licence", hits)][1] == hits[2].text
    assert [h.text for h in MmrReranker(1.0).rerank("licence", hits)] == [h.text for h in hits]
