"""Searching Milvus Lite 3.x generations from memory: the same hits as Milvus, and never a stale row."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest

from rag.embedder import SentenceTransformerEmbedder
from rag.index import Fusion, MilvusIndex, generation_name
from rag.index.memory import LiveRevision, MemoryGeneration
from rag.lexical import bm25_text
from rag.lite_server import SharedLiteServer
from tests.rag.test_index import GENERATION, fill, make_chunks, search

LIVE = LiveRevision("c", "r1")


def rows(texts: list[str], vectors: list[list[float]], release_at: list[int] | None = None) -> list[dict]:
    return [
        {
            "id": f"row-{i}",
            "source": f"s{i}.md",
            "title": "T",
            "headings": "[]",
            "locator": "{}",
            "url": "",
            "text": text,
            "dense": vector,
            "release_at": (release_at or [0] * len(texts))[i],
            "search_text": bm25_text(text),
        }
        for i, (text, vector) in enumerate(zip(texts, vectors, strict=True))
    ]


def ids(hits: list[dict]) -> list[str]:
    return [hit["id"] for hit in hits]


def test_dense_ranks_by_cosine_and_reports_it() -> None:
    generation = MemoryGeneration(LIVE, rows(["a", "b", "c"], [[1, 0], [0.6, 0.8], [0, 3]]))
    hits = generation.search("", [3, 4], 3, "dense", Fusion(), None)
    assert ids(hits) == ["row-1", "row-2", "row-0"]
    assert hits[0]["distance"] == pytest.approx(1.0)
    assert hits[2]["distance"] == pytest.approx(0.6)


def test_bm25_scores_as_milvus_lite_defines_it_and_skips_rows_without_a_query_term() -> None:
    texts = ["break ends the loop", "continue skips to the next loop turn", "sets have no order"]
    generation = MemoryGeneration(LIVE, rows(texts, [[1, 0]] * 3))
    hits = generation.search(bm25_text("break a loop"), [1, 0], 5, "bm25", Fusion(), None)
    assert ids(hits) == ["row-0", "row-1"]
    # score = sum over query terms of IDF * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
    lengths = [len(bm25_text(text).split()) for text in texts]
    average = sum(lengths) / 3

    def term(df: int, dl: int) -> float:
        return math.log((3 - df + 0.5) / (df + 0.5) + 1) * 2.5 / (1 + 1.5 * (0.25 + 0.75 * dl / average))

    assert hits[0]["distance"] == pytest.approx(term(1, lengths[0]) + term(2, lengths[0]), rel=1e-5)
    assert hits[1]["distance"] == pytest.approx(term(2, lengths[1]), rel=1e-5)


def test_release_times_hide_rows_not_yet_released() -> None:
    generation = MemoryGeneration(LIVE, rows(["loop one", "loop two"], [[1, 0], [1, 0.1]], release_at=[0, 500]))
    for mode in ("dense", "bm25", "hybrid"):
        assert ids(generation.search("loop", [1, 0], 5, mode, Fusion(), 499)) == ["row-0"]
        assert sorted(ids(generation.search("loop", [1, 0], 5, mode, Fusion(), 500))) == ["row-0", "row-1"]


def test_hybrid_fuses_as_milvus_lite_rankers_do() -> None:
    # Dense prefers row 0, BM25 finds only row 1.
    generation = MemoryGeneration(LIVE, rows(["alpha", "loop loop", "gamma"], [[1, 0], [0.8, 0.6], [0, 1]]))
    rrf = generation.search("loop", [1, 0], 3, "hybrid", Fusion("rrf", rrf_k=20), None)
    assert ids(rrf) == ["row-1", "row-0", "row-2"]
    assert rrf[0]["distance"] == pytest.approx(1 / 22 + 1 / 21)
    assert rrf[1]["distance"] == pytest.approx(1 / 21)
    weighted = generation.search("loop", [1, 0], 3, "hybrid", Fusion("weighted", 0.6), None)
    # Milvus Lite's normalisation: a cosine to (1 + c) / 2, a BM25 score to 2·atan(s)/π.
    bm25 = generation.search("loop", [1, 0], 3, "bm25", Fusion(), None)[0]["distance"]
    assert ids(weighted) == ["row-1", "row-0", "row-2"]
    assert [hit["distance"] for hit in weighted] == pytest.approx(
        [0.6 * 0.9 + 0.4 * 2 * math.atan(bm25) / math.pi, 0.6, 0.6 * 0.5]
    )


def test_equal_fused_scores_are_ordered_by_id_as_milvus_lite_orders_them() -> None:
    # Dense puts row 1 first, BM25 row 0: the same RRF score, and the lower id wins.
    generation = MemoryGeneration(LIVE, rows(["loop break", "skip"], [[0.9, 0.1], [1, 0]]))
    assert ids(generation.search("loop", [1, 0], 2, "bm25", Fusion(), None)) == ["row-0"]
    assert ids(generation.search("loop", [1, 0], 2, "dense", Fusion(), None)) == ["row-1", "row-0"]
    assert ids(generation.search("loop", [1, 0], 2, "hybrid", Fusion("rrf", rrf_k=20), None)) == ["row-0", "row-1"]


def test_an_empty_generation_and_a_zero_vector_find_nothing_without_failing() -> None:
    assert MemoryGeneration(LIVE, []).search("loop", [1, 0], 5, "hybrid", Fusion(), None) == []
    generation = MemoryGeneration(LIVE, rows(["loop"], [[0, 0]]))
    assert ids(generation.search("", [0, 0], 5, "dense", Fusion(), None)) == ["row-0"]
    assert np.isfinite(generation.search("", [0, 0], 5, "dense", Fusion(), None)[0]["distance"])


def test_lite_search_from_memory_matches_milvus(lite_index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> None:
    fill(lite_index, embedder)
    assert lite_index.searches_from_memory
    assert lite_index.memory.load("mentor_cs101") is not None
    searches = [("dense", Fusion()), ("bm25", Fusion()), ("hybrid", Fusion()), ("hybrid", Fusion("weighted", 0.6))]
    for mode, fusion in searches:
        for query in ("how do I make an empty set?", "stop a loop early", "mutable default argument shared", "loop"):
            from_memory = search(lite_index, embedder, query, mode=mode, fusion=fusion)
            lite_index.memory_rows = 0
            from_milvus = search(lite_index, embedder, query, mode=mode, fusion=fusion)
            lite_index.memory_rows = 200_000
            assert [(hit.source, hit.locator) for hit in from_memory] == [(hit.source, hit.locator) for hit in from_milvus]
            assert [hit.text for hit in from_memory] == [hit.text for hit in from_milvus]
            assert [hit.similarity for hit in from_memory] == pytest.approx([hit.similarity for hit in from_milvus], abs=1e-5)


def test_a_write_makes_the_copy_stale_at_once(lite_index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> None:
    fill(lite_index, embedder)
    before = lite_index.memory.load("mentor_cs101")
    assert before is not None
    lite_index.delete_document(GENERATION, "loops.md")
    # The very next search must not see the deleted rows, whether it reads Milvus or a fresh copy.
    assert "loops.md" not in {hit.source for hit in search(lite_index, embedder, "break ends the loop", k=5)}
    after = lite_index.memory.load("mentor_cs101")
    assert after is not None and after.live != before.live and after.size == before.size - 1


def test_a_write_through_the_shared_server_is_seen_by_the_next_search(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    """`mentor serve` searching from memory while another client (a CLI in another shell) writes through its loopback server."""
    server = SharedLiteServer(tmp_path / "milvus.db")
    server.start()
    serving, cli = MilvusIndex(str(tmp_path / "milvus.db")), MilvusIndex(str(tmp_path / "milvus.db"))
    try:
        fill(serving, embedder)
        assert serving.via_shared_server and serving.searches_from_memory
        assert serving.memory.load("mentor_cs101") is not None
        cli.delete_document(GENERATION, "sets.html")
        assert "sets.html" not in {hit.source for hit in search(serving, embedder, "how do I make an empty set?", k=5)}
    finally:
        serving.close()
        cli.close()
        server.stop()


def test_a_new_generation_is_searched_not_the_copy_of_the_old(lite_index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> None:
    fill(lite_index, embedder)
    assert lite_index.memory.load("mentor_cs101") is not None
    rebuilt = generation_name("cs101", "rebuilt")
    lite_index.ensure_collection(rebuilt, embedder.dimension)
    chunks = make_chunks("sets.html", "v2")
    lite_index.write_document(rebuilt, "sets.html", chunks, embedder.embed_documents([c.embedding_text() for c in chunks]))
    lite_index.finalize(rebuilt)
    lite_index.publish("cs101", rebuilt)
    assert {hit.source for hit in search(lite_index, embedder, "break ends the loop", k=5)} == {"sets.html"}
    assert lite_index.memory.load("mentor_cs101").live.collection == rebuilt


def test_a_course_over_the_limit_is_searched_in_milvus_and_said_once(
    lite_index: MilvusIndex, embedder: SentenceTransformerEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    fill(lite_index, embedder, pieces=3)
    lite_index.memory_rows = 5
    with caplog.at_level(logging.WARNING):
        assert lite_index.memory.load("mentor_cs101") is None
        assert search(lite_index, embedder, "stop a loop early", k=3)[0].source == "loops.md"
        assert lite_index.memory.current("mentor_cs101") is None
    assert sum("searched in Milvus Lite" in record.getMessage() for record in caplog.records) == 1


def test_memory_off_and_servers_search_milvus_itself(lite_index: MilvusIndex, server_index: MilvusIndex) -> None:
    assert not server_index.searches_from_memory
    lite_index.memory_rows = 0
    assert not lite_index.searches_from_memory

