"""The speed benchmark's filler: written like real rows, and checked before anything is timed."""

from __future__ import annotations

from bench.filler import fill, ready
from models import Chunk, Locator
from rag.embedder import SentenceTransformerEmbedder
from rag.index import MilvusIndex, generation_name
from rag.lexical import bm25_text

COURSE = "speed"


def _ingested(index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> str:
    """A course with two real chunks behind its alias, as an ingest leaves it."""
    generation = generation_name(COURSE, "test")
    index.ensure_collection(generation, embedder.dimension)
    chunks = [
        Chunk(id=f"real-{i}", course=COURSE, source="loops.md", title="Loops", headings=("Stopping a loop early",),
              context="Loops > Stopping a loop early", text=text, locator=Locator(anchor="loops"), file_hash="a" * 64)
        for i, text in enumerate(["The break statement ends the innermost for loop.", "Continue skips to the next iteration."])
    ]
    index.write_document(generation, "loops.md", chunks, embedder.embed_documents([c.embedding_text() for c in chunks]))
    index.finalize(generation)
    index.publish(COURSE, generation)
    return generation


def test_filler_rows_are_written_sealed_and_indexed_like_real_ones(lite_index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> None:
    generation = _ingested(lite_index, embedder)

    assert fill(lite_index, COURSE, 600) == (generation, 598)

    assert ready(lite_index, COURSE, 600) is None
    row = lite_index.client.query(generation, filter='id == "filler-0"', output_fields=["title", "headings", "text", "search_text"])[0]
    chunk = Chunk(id="x", course=COURSE, source="x", title=row["title"], headings=("Stopping a loop early",),
                  context="Loops > Stopping a loop early", text=row["text"], locator=Locator(), file_hash="x")
    assert row["search_text"] == bm25_text(chunk.embedding_text())
    assert "earli" in row["search_text"].split()


def test_an_index_short_of_the_asked_size_is_reported_before_timing(lite_index: MilvusIndex, embedder: SentenceTransformerEmbedder) -> None:
    _ingested(lite_index, embedder)

    assert ready(lite_index, COURSE, 600) == "the index holds 2 rows, not 600"
    assert ready(lite_index, "other", 600) == "course 'other' has no index"
