"""The MilvusIndex contract, run against Milvus Lite and a real Milvus server on loopback."""

from __future__ import annotations

import logging

import pytest

from models import Chunk, Locator
from rag.embedder import SentenceTransformerEmbedder
from rag.errors import IndexOperationError, IndexUnavailableError, UnknownCourseIndexError
from rag.index import MilvusIndex, generation_name
from tests.conftest import free_port

GENERATION = generation_name("cs101", "test")
SECTIONS = {
    "sets.html": ("Sets", "sets", "To create an empty set you have to use set(), not {}; the latter creates an empty dictionary."),
    "defaults.html": ("Default Argument Values", "defaults", "The default value is evaluated only once, so a mutable default list is shared between calls."),
    "loops.md": ("Break and Continue", "break", "The break statement ends the innermost enclosing for or while loop early."),
    'odd "name" é.md': ("Quoting", "quoting", "A file name with quotes and accents must be deletable too."),
}


def make_chunks(source: str, file_hash: str, pieces: int = 1) -> list[Chunk]:
    heading, anchor, text = SECTIONS[source]
    return [
        Chunk(
            id=f"{abs(hash(source)) % 10**8}-{file_hash}-{i}",
            course="cs101",
            source=source,
            title="Tutorial",
            headings=(heading,),
            text=text if i == 0 else f"{text} (part {i + 1})",
            locator=Locator(anchor=anchor),
            url=f"https://cs101.example.edu/{source}#{anchor}",
            file_hash=file_hash,
        )
        for i in range(pieces)
    ]


def fill(index: MilvusIndex, embedder: SentenceTransformerEmbedder, pieces: int = 1) -> None:
    index.ensure_collection(GENERATION, embedder.dimension)
    for source in SECTIONS:
        chunks = make_chunks(source, "v1", pieces)
        index.write_document(GENERATION, source, chunks, embedder.embed_documents([c.embedding_text() for c in chunks]))
    index.finalize(GENERATION)
    index.publish("cs101", GENERATION)


@pytest.fixture(params=["lite", "server"])
def index(request: pytest.FixtureRequest) -> MilvusIndex:
    return request.getfixturevalue(f"{request.param}_index")


def search(index: MilvusIndex, embedder: SentenceTransformerEmbedder, query: str, **options: object):
    return index.search("cs101", query, embedder.embed_query(query), **options)


def test_dense_search_finds_the_section_and_keeps_its_citation(index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> None:
    fill(index, embedder)
    hits = search(index, embedder, "how do I make an empty set?", k=2, mode="dense")
    assert hits[0].source == "sets.html"
    assert hits[0].locator == Locator(anchor="sets")
    assert hits[0].url == "https://cs101.example.edu/sets.html#sets"
    assert hits[0].headings == ("Sets",)
    assert "set()" in hits[0].text
    assert hits[0].score > hits[1].score


def test_hybrid_search_ranks_the_answer_first(index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> None:
    fill(index, embedder)
    hits = search(index, embedder, "my function keeps remembering the list from previous calls", k=3, mode="hybrid")
    assert hits[0].source == "defaults.html"


def test_one_hit_per_section(index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> None:
    fill(index, embedder, pieces=3)
    hits = search(index, embedder, "empty set", k=4, mode="dense")
    assert len({(h.source, h.locator) for h in hits}) == len(hits) == 4


def test_rewriting_a_document_replaces_its_chunks(index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> None:
    fill(index, embedder, pieces=2)
    assert index.count_chunks("cs101") == 8
    new = make_chunks("sets.html", "v2", pieces=1)
    index.write_document(GENERATION, "sets.html", new, embedder.embed_documents([c.embedding_text() for c in new]))
    index.finalize(GENERATION)
    assert index.count_chunks("cs101") == 7
    rows = index.client.query(index.searched_collection("cs101"), filter='source == "sets.html"', output_fields=["file_hash"])
    assert [row["file_hash"] for row in rows] == ["v2"]


def test_deleting_a_document_with_quotes_in_its_name(index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> None:
    fill(index, embedder)
    index.delete_document(GENERATION, 'odd "name" é.md')
    index.finalize(GENERATION)
    assert index.count_chunks("cs101") == 3
    assert all(h.source != 'odd "name" é.md' for h in search(index, embedder, "quotes and accents", k=4, mode="dense"))


def test_searching_a_course_never_ingested_says_what_to_do(index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> None:
    with pytest.raises(UnknownCourseIndexError, match="mentor ingest --course cs999"):
        index.search("cs999", "anything", embedder.embed_query("anything"))


def test_bm25_is_searched_on_lite(lite_index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> None:
    fill(lite_index, embedder)
    hits = search(lite_index, embedder, "innermost enclosing loop", k=1, mode="bm25")
    assert hits[0].source == "loops.md"
    assert hits[0].score > 0


def test_a_server_without_bm25_falls_back_to_dense_with_one_notice(
    server_index: MilvusIndex, embedder: SentenceTransformerEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    fill(server_index, embedder)
    with caplog.at_level(logging.WARNING, logger="rag.index"):
        first = search(server_index, embedder, "how do I make an empty set?", k=1, mode="hybrid")
        search(server_index, embedder, "break out of a loop", k=1, mode="bm25")
    assert first[0].source == "sets.html"
    notices = [r for r in caplog.records if "no BM25" in r.getMessage()]
    assert len(notices) == 1


def test_a_server_that_does_not_answer_gives_a_clear_error() -> None:
    index = MilvusIndex(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(IndexUnavailableError, match=r"Cannot open Milvus at http://127\.0\.0\.1:\d+.*MENTOR_MILVUS_URI"):
        index.connect()


def test_a_question_of_stop_words_only_is_searched_densely(lite_index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> None:
    fill(lite_index, embedder)
    hits = search(lite_index, embedder, "what is it?", k=2, mode="hybrid")
    assert len(hits) == 2 and all(-1.0 <= hit.score <= 1.0 for hit in hits)


def test_a_write_milvus_refuses_is_a_clear_error(lite_index: MilvusIndex) -> None:
    lite_index.ensure_collection(GENERATION, 384)
    chunk = make_chunks("sets.html", "v1")
    with pytest.raises(IndexOperationError, match=r"Milvus at .*milvus\.db failed \(write document\)"):
        lite_index.write_document(GENERATION, "sets.html", chunk, [[0.1, 0.2, 0.3]])


def test_finalizing_a_name_that_is_not_a_collection_is_an_error_not_a_quiet_return(index: MilvusIndex) -> None:
    """bench.speed once passed a course's name here and timed an index whose rows were never sealed."""
    with pytest.raises(IndexOperationError, match="'cs101'.*no such collection"):
        index.finalize("cs101")


def test_the_engine_in_use_is_reported(lite_index: MilvusIndex) -> None:
    """Milvus Lite 3.x and 2.x differ tenfold in search speed: status and benchmarks say which one runs."""
    import milvus_lite

    assert lite_index.engine() == f"milvus-lite {milvus_lite.__version__} (embedded)"
