"""Quote mode reads the whole section of each hit: its chunks fetched back from real Milvus Lite,
joined without the sentences the chunker repeats, and quoted from with the real MiniLM."""

from __future__ import annotations

from pathlib import Path

from ingest.chunker import ChunkingPolicy
from ingest.pipeline import IngestPipeline
from models import Course, Question
from rag.answerer import Answerer
from rag.embedder import SentenceTransformerEmbedder
from rag.index import MilvusIndex
from rag.retriever import HybridRetriever
from rag.sections import join_overlapping, section_text, widened_hits
from tests.conftest import catalog_in

SECTION = [
    "Loops run their body again and again until their condition turns false or their items run out.",
    "Sometimes you want a loop to end before that happens, for instance once a search has found its item.",
    "A for loop over a list visits the items in order, one per pass through the body.",
    "The break statement ends the innermost enclosing loop at once and skips the rest of its body.",
    "The continue statement skips only the rest of the current pass and goes on with the next item.",
    "A while loop checks its condition before every pass, so it may not run its body at all.",
]
NOTES = "# Control flow\n\n## Leaving a loop\n\n" + " ".join(SECTION) + "\n\n## Functions\n\nA def statement makes a function object.\n"


def ingested(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> tuple[MilvusIndex, Course]:
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "notes.md").write_text(NOTES, encoding="utf-8")
    course = Course(name="cs101", sources=(tmp_path / "course",))
    index = MilvusIndex(str(tmp_path / "milvus.db"))
    # Chunks of about two sentences, so the section is several chunks that repeat a sentence each.
    report = IngestPipeline(index, embedder, catalog_in(tmp_path), ChunkingPolicy(size=48, overlap=24)).ingest(course)
    assert not report.failed
    return index, course


def test_consecutive_chunks_join_without_the_sentences_they_repeat() -> None:
    assert join_overlapping(["One. Two. Three.", "Three. Four.", "Four. Five."]) == "One. Two. Three. Four. Five."
    assert join_overlapping(["Ends mid-code:\n```\nx = 1", "y = 2\n```"]) == "Ends mid-code:\n```\nx = 1\ny = 2\n```"
    assert join_overlapping(["It said no.", "no way."]) == "It said no.\nno way.", "a repeat ends where a sentence ends"
    assert join_overlapping([]) == ""
    assert section_text("A chunk reindexed away.", ["Other. Chunks."], 2) == "A chunk reindexed away."
    section = ["c0.", "c1.", "c2.", "c3.", "c4."]
    assert section_text("c2.", section, 1) == "c1.\nc2.\nc3." and section_text("c0.", section, 1) == "c0.\nc1."


def test_a_hit_is_widened_to_its_sections_neighbouring_chunks(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    index, course = ingested(tmp_path, embedder)
    try:
        hits = HybridRetriever(index, embedder).search("cs101", "how do I end a loop before it is done?").hits
        leaving = next(hit for hit in hits if hit.locator.anchor == "leaving-a-loop")
        chunks = index.section_chunks("cs101", [(leaving.source, leaving.locator)])[(leaving.source, leaving.locator)]
        assert len(chunks) >= 4 and leaving.text in chunks, "the setup: a section of several chunks"
        assert " ".join(join_overlapping(chunks).split()) == " ".join(SECTION), "the section, each sentence once, in order"
        (whole,) = widened_hits(index, "cs101", [leaving], reach=99)
        assert whole.text == join_overlapping(chunks) and (whole.source, whole.locator, whole.url) == (leaving.source, leaving.locator, leaving.url)
        assert index.section_chunks("cs101", []) == {} and index.section_chunks("nope", [(leaving.source, leaving.locator)]) == {}
    finally:
        index.close()


def test_quote_mode_quotes_beyond_the_chunk_search_returned(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    index, course = ingested(tmp_path, embedder)
    try:
        retriever = HybridRetriever(index, embedder)
        question = "how do I skip the rest of the current pass of a loop?"
        top = retriever.search("cs101", question).hits[0]
        assert top.locator.anchor == "leaving-a-loop" and SECTION[5] not in top.text, "the setup: the last sentence is in a sibling chunk"
        answer = Answerer(retriever, lambda: None).answer(Question(text=question), course, mode="quote")  # type: ignore[arg-type,return-value]
        first = answer.citations[0]
        assert answer.kind == "quote" and first.anchor == "leaving-a-loop" and not first.see_also
        assert SECTION[4] in answer.text and SECTION[5] in first.quotes[0], "the paragraph read on into the sibling chunk"
        excerpt = " ".join((first.excerpt or "").split())
        assert all(sentence in excerpt for sentence in SECTION[3:]), "the excerpt holds what is quoted, so the page can mark it"
    finally:
        index.close()
